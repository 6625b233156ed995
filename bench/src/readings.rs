//! The operator under test, as the harness reads it: its /metrics as a snapshot, its memory
//! and CPU from /proc, and a background sampler of its memory. Also spots other
//! `baseplate run` processes on this machine, which would share the cluster's Apps with ours
//! and skew the figures. The process itself is the test kit's.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baseplate_tests::operator::Operator;

use crate::measure::{self, MetricsSnapshot, RssSample};

/// The operator's counters right now.
pub async fn metrics_snapshot(operator: &Operator) -> anyhow::Result<MetricsSnapshot> {
    Ok(MetricsSnapshot::from_text(&operator.metrics().await?))
}

pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    measure::proc_status_kib(&status, field)
}

pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = measure::proc_stat_cpu_ticks(&stat)?;
    Some(ticks as f64 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// PIDs of `baseplate run` processes other than `own`.
pub fn other_operators(own: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| measure::is_operator_cmdline(&c))
        })
        .collect()
}

/// What the background sampler gathers: the operator's VmRSS every second and the largest
/// number of other operator processes seen.
#[derive(Default)]
pub struct Samples {
    pub rss: Vec<RssSample>,
    pub other_operators_max: usize,
    pub other_operator_pids: std::collections::BTreeSet<u32>,
}

/// Samples VmRSS of `pid` every second (and looks for other operators every 5 s) until aborted.
pub fn spawn_sampler(
    pid: u32,
    epoch: Instant,
    samples: Arc<Mutex<Samples>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = 0u64;
        loop {
            // 0 before exec or after exit: not the operator's memory.
            if let Some(rss_kib) = proc_status_kib(pid, "VmRSS").filter(|k| *k > 0) {
                samples.lock().expect("lock").rss.push(RssSample {
                    at: epoch.elapsed().as_secs_f64(),
                    rss_kib,
                });
            }
            if tick.is_multiple_of(5) {
                let others = other_operators(pid);
                let mut samples = samples.lock().expect("lock");
                samples.other_operators_max = samples.other_operators_max.max(others.len());
                samples.other_operator_pids.extend(others);
            }
            tick += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}
