//! The operator under test as a child process: start, readiness, /metrics, memory and CPU
//! from /proc, stop. Also spots other `baseplate run` processes on this machine, which would
//! share the cluster's Apps with ours and skew the figures.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::measure::{self, MetricsSnapshot, RssSample};

pub struct Operator {
    child: Child,
    pub pid: u32,
    pub address: SocketAddr,
    pub log: PathBuf,
}

impl Operator {
    /// Starts `binary run` on a free local port, logging JSON to `log`.
    pub fn start(
        binary: &Path,
        concurrency: u16,
        env: &[(String, String)],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let address = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("creating the operator log {}", log.display()))?;
        let child = Command::new(binary)
            .args(["run", "--leader-election=false", "--log-format", "json"])
            .arg("--http-address")
            .arg(address.to_string())
            .arg("--concurrency")
            .arg(concurrency.to_string())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it with `cargo build --release -p baseplate` or pass --operator)",
                    binary.display()
                )
            })?;
        Ok(Self {
            pid: child.id(),
            child,
            address,
            log: log.to_path_buf(),
        })
    }

    /// Waits for /readyz (the operator's caches are filled).
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the operator exited with {status} before it was ready; see {}",
                    self.log.display()
                );
            }
            if http_get(self.address, "/readyz").await.is_ok() {
                return Ok(started.elapsed());
            }
            if started.elapsed() > timeout {
                bail!(
                    "the operator was not ready after {timeout:?}; see {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn metrics(&self) -> anyhow::Result<MetricsSnapshot> {
        let text = http_get(self.address, "/metrics").await?;
        Ok(MetricsSnapshot::from_text(&text))
    }

    pub fn status_kib(&self, field: &str) -> Option<u64> {
        proc_status_kib(self.pid, field)
    }

    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.pid)
    }

    /// SIGTERM, then SIGKILL if it has not exited within 15 s.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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

/// A plain HTTP/1.0 GET on a blocking thread; the body when the answer is 200.
async fn http_get(address: SocketAddr, path: &str) -> anyhow::Result<String> {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        measure::http_body(&response).with_context(|| format!("GET {path}: not 200"))
    })
    .await?
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
