//! What the report says about the machine and the code measured: CPUs, memory, load
//! average, the API server's version, the commit.

use kube::Client;

use crate::{cluster, measure, report};

pub async fn machine(client: &Client) -> report::Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu_model = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            let (key, value) = l.split_once(':')?;
            (key.trim() == "model name").then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    report::Machine {
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        memory_mib: measure::proc_status_kib(&read("/proc/meminfo"), "MemTotal").unwrap_or(0)
            / 1024,
        load_average_at_start: load_average(),
        load_average_at_end: String::new(),
        api_server_version: cluster::server_version(client).await,
        operator_commit: git_commit(),
    }
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `git rev-parse --short HEAD` of the working directory, `+dirty` when `operator/` or
/// `crd/` have uncommitted changes.
fn git_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(commit) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    let dirty = git(&[
        "status",
        "--porcelain",
        "--",
        "operator/src/controller",
        "operator/src/main.rs",
        "crd/src",
    ])
    .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{commit}+dirty")
    } else {
        commit
    }
}
