//! `baseplate-load`: a load harness for the operator against a real control plane.
//!
//! One run, N Apps over the `load-*` namespaces:
//! 1. baseline — the children rendered offline and applied directly (the API server's speed limit);
//! 2. convergence — the namespaces made anew, the operator started, the Apps created, timed
//!    until every App has all its children and a current status;
//! 3. quiet — a minute of nothing, in which the operator must write nothing;
//! 4. Platform change — the load Platform (there from the start, with the built-in
//!    `preStopSleepSeconds: 10`) is changed to 15, timed until it reaches every Deployment;
//! 5. cleanup — the Apps deleted, timed until garbage collection removed their children;
//! 6. report — phase timings, the operator's memory, reconciles, requests and errors, the
//!    targets, as a table and a JSON file.
//!
//! Only namespaces and a Platform labelled `baseplate-load=true` are ever deleted.

pub mod baseline;
pub mod cleanup;
pub mod cluster;
pub mod converge;
pub mod measure;
pub mod platform;
pub mod process;
pub mod quiet;
pub mod report;
pub mod workload;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use kube::{Client, ResourceExt};

use measure::MetricsSnapshot;
use process::{Operator, Samples};
use report::{PhaseRow, Report};

/// Load-test the Baseplate operator against the cluster in KUBECONFIG.
#[derive(Parser, Debug, Clone)]
#[command(name = "baseplate-load", version, about)]
pub struct Options {
    /// Number of Apps.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub apps: usize,
    /// Namespaces `load-0`.. the Apps are spread over.
    #[arg(long, default_value_t = 10)]
    pub namespaces: usize,
    /// Requests in flight when the harness applies children or Apps.
    #[arg(long, default_value_t = 16)]
    pub apply_concurrency: usize,
    /// The operator's `--concurrency` (its default).
    #[arg(long, default_value_t = 8)]
    pub operator_concurrency: u16,
    /// The operator binary (default: `baseplate` next to this binary, i.e. the release build).
    #[arg(long)]
    pub operator: Option<PathBuf>,
    /// The CRDs to install first.
    #[arg(long, default_value = "deploy/crds.yaml")]
    pub crds: PathBuf,
    /// Length of the quiet phase.
    #[arg(long, default_value_t = 60)]
    pub quiet_seconds: u64,
    /// Before the quiet phase, nothing may move for this long ...
    #[arg(long, default_value_t = 20)]
    pub settle_window_seconds: u64,
    /// ... waiting for at most this long. Without nodes, kube-controller-manager (20 QPS by
    /// default) takes minutes to work through N new Deployments, and marks each
    /// ProgressDeadlineExceeded 600 s after its last progress: only then is the cluster quiet.
    #[arg(long, default_value_t = 1500)]
    pub settle_max_seconds: u64,
    /// Interval of the LIST polls.
    #[arg(long, default_value_t = 1000)]
    pub poll_interval_ms: u64,
    /// Longest a phase may take.
    #[arg(long, default_value_t = 1800)]
    pub phase_timeout_seconds: u64,
    /// preStopSleepSeconds of the Platform change.
    #[arg(long, default_value_t = 15)]
    pub pre_stop_seconds: i64,
    /// The JSON report (default: load-N.json).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// The operator's log (default: load-N.operator.log).
    #[arg(long)]
    pub operator_log: Option<PathBuf>,
    /// Extra environment for the operator process, `KEY=VALUE` (repeatable), e.g.
    /// `MALLOC_ARENA_MAX=2` or `RUST_LOG=debug` for an experiment.
    #[arg(long = "operator-env", value_parser = parse_env)]
    pub operator_env: Vec<(String, String)>,
    /// Leave the load namespaces in place at the end.
    #[arg(long)]
    pub keep_namespaces: bool,
    /// Skip the settle wait and the quiet minute (for quick experiments: the quiet target is
    /// then reported as not measured).
    #[arg(long)]
    pub skip_quiet: bool,
    /// Skip timing the cleanup (the namespaces are still deleted unless --keep-namespaces).
    #[arg(long)]
    pub skip_cleanup: bool,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

impl Options {
    fn output(&self) -> PathBuf {
        self.output
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("load-{}.json", self.apps)))
    }

    fn operator_log(&self) -> PathBuf {
        self.operator_log
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("load-{}.operator.log", self.apps)))
    }

    fn operator_binary(&self) -> anyhow::Result<PathBuf> {
        if let Some(path) = &self.operator {
            return Ok(path.clone());
        }
        let exe = std::env::current_exe()?;
        Ok(exe.with_file_name("baseplate"))
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.phase_timeout_seconds)
    }
}

/// Runs the harness; prints the table and writes the JSON report.
pub async fn main(options: Options) -> anyhow::Result<Report> {
    let client = Client::try_default()
        .await
        .context("connecting to the cluster in KUBECONFIG")?;
    let namespaces = workload::namespaces(options.namespaces);
    let result = run(&client, &options, &namespaces).await;
    if result.is_err() {
        // Best effort: leave no Platform behind; the next run clears the namespaces.
        let _ = cluster::delete_platform(&client).await;
    }
    let report = result?;
    let table = report::format(&report);
    println!("\n{table}");
    let output = options.output();
    std::fs::write(&output, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", output.display()))?;
    println!("report written to {}", output.display());
    Ok(report)
}

/// A point in the run: seconds since the start, the operator's counters and CPU time.
struct Mark {
    at: f64,
    metrics: Option<MetricsSnapshot>,
    cpu: Option<f64>,
    api_server: Option<measure::Counters>,
}

async fn mark(client: &Client, epoch: Instant, operator: Option<&Operator>) -> Mark {
    let metrics = match operator {
        Some(op) => op.metrics().await.ok(),
        None => None,
    };
    Mark {
        at: epoch.elapsed().as_secs_f64(),
        metrics,
        cpu: operator.and_then(Operator::cpu_seconds),
        api_server: cluster::apiserver_requests(client).await.ok(),
    }
}

fn row(phase: &str, seconds: f64, from: &Mark, to: &Mark, samples: &Mutex<Samples>) -> PhaseRow {
    let operator = match (&from.metrics, &to.metrics) {
        (Some(a), Some(b)) => Some(a.delta(b)),
        _ => None,
    };
    let samples = samples.lock().expect("lock");
    PhaseRow {
        phase: phase.into(),
        seconds,
        operator,
        operator_cpu_seconds: from.cpu.zip(to.cpu).map(|(a, b)| b - a),
        peak_rss_kib: measure::peak_between(&samples.rss, from.at, to.at),
        api_server: match (&from.api_server, &to.api_server) {
            (Some(a), Some(b)) => Some(measure::diff_counters(a, b)),
            _ => None,
        },
    }
}

async fn run(client: &Client, options: &Options, namespaces: &[String]) -> anyhow::Result<Report> {
    let epoch = Instant::now();
    let namespace_set: HashSet<String> = namespaces.iter().cloned().collect();
    let mut report = Report {
        started_at: jiff::Timestamp::now().to_string(),
        machine: machine(client).await,
        settings: report::Settings {
            apps: options.apps,
            namespaces: options.namespaces,
            apply_concurrency: options.apply_concurrency,
            operator_concurrency: options.operator_concurrency,
            operator_env: options
                .operator_env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            quiet_seconds: options.quiet_seconds,
            poll_interval_seconds: options.interval().as_secs_f64(),
        },
        ..Default::default()
    };
    let operator_binary = options.operator_binary()?;
    anyhow::ensure!(
        operator_binary.exists(),
        "no operator binary at {}: run `cargo build --release -p baseplate` or pass --operator",
        operator_binary.display()
    );
    let samples = Arc::new(Mutex::new(Samples::default()));
    let mut platforms = cluster::foreign_platforms(client).await?;

    tracing::info!(
        apps = options.apps,
        "setting up: CRDs, clean load namespaces"
    );
    cluster::install_crds(client, &options.crds).await?;
    cluster::delete_platform(client).await?;
    // The Platform change edits a Platform that exists, as an SRE would.
    cluster::apply_platform(client, workload::INITIAL_PRE_STOP_SECONDS).await?;
    let deleted = cluster::delete_namespaces(client, namespaces, options.timeout()).await?;
    cluster::create_namespaces(client, namespaces).await?;
    cluster::wait_out_live_lookups(deleted).await;

    // 1. Baseline.
    let render_started = Instant::now();
    let apps = workload::apps(options.apps, options.namespaces);
    let children = workload::render_all(&apps)?;
    let render_seconds = render_started.elapsed().as_secs_f64();
    let before = mark(client, epoch, None).await;
    let updated = workload::deployments_after_platform_change(&apps, options.pre_stop_seconds)?;
    let mut baseline = baseline::run(client, &children, updated, options.apply_concurrency).await?;
    baseline.render_seconds = render_seconds;
    let after = mark(client, epoch, None).await;
    // The parts of the baseline are timed inside it; counters cover the whole.
    let part = |phase: &str, seconds: f64| PhaseRow {
        phase: phase.into(),
        seconds,
        ..Default::default()
    };
    report
        .phases
        .push(part("render (offline, no API)", render_seconds));
    report.phases.push(part(
        "baseline: ConfigMaps + Secrets",
        baseline.config_seconds,
    ));
    report
        .phases
        .push(part("baseline: Deployments", baseline.deployment_seconds));
    report.phases.push(part(
        "baseline: Services, HPAs, PDBs, Ingresses",
        baseline.rest_seconds,
    ));
    report.phases.push(part(
        "baseline: Deployments updated (preStop, as the Platform change)",
        baseline.deployment_update_seconds,
    ));
    report.phases.push(row(
        "**baseline total**",
        baseline.total_seconds,
        &before,
        &after,
        &samples,
    ));
    drop(children);

    // Clean slate for the operator.
    let reset_started = Instant::now();
    let deleted = cluster::delete_namespaces(client, namespaces, options.timeout()).await?;
    cluster::create_namespaces(client, namespaces).await?;
    cluster::wait_out_live_lookups(deleted).await;
    baseline.reset_seconds = reset_started.elapsed().as_secs_f64();
    let reset = mark(client, epoch, None).await;
    report.phases.push(row(
        "reset: namespaces deleted, made anew, 30 s live-lookup TTL waited out",
        baseline.reset_seconds,
        &after,
        &reset,
        &samples,
    ));
    report.baseline = baseline;

    // 2. Convergence.
    let log = options.operator_log();
    let mut operator = Operator::start(
        &operator_binary,
        options.operator_concurrency,
        &options.operator_env,
        &log,
    )?;
    tracing::info!(pid = operator.pid, address = %operator.address, log = %log.display(), "operator started");
    let sampler = process::spawn_sampler(operator.pid, epoch, samples.clone());
    let ready_seconds = operator
        .wait_ready(Duration::from_secs(120))
        .await?
        .as_secs_f64();
    let ready = mark(client, epoch, Some(&operator)).await;
    report.phases.push(row(
        "operator start → ready (caches filled)",
        ready_seconds,
        &reset,
        &ready,
        &samples,
    ));
    platforms.extend(cluster::foreign_platforms(client).await?);
    let mut convergence = converge::run(
        client,
        &apps,
        &namespace_set,
        options.apply_concurrency,
        options.interval(),
        options.timeout(),
    )
    .await?;
    convergence.operator_ready_seconds = ready_seconds;
    let converged = mark(client, epoch, Some(&operator)).await;
    report.phases.push(row(
        "**convergence** (Apps created → all children + status)",
        convergence.seconds,
        &ready,
        &converged,
        &samples,
    ));
    report.convergence = convergence;

    // 3. Quiet.
    let quiet_end = if options.skip_quiet {
        mark(client, epoch, Some(&operator)).await
    } else {
        let (settle_seconds, settled) = quiet::settle(
            client,
            &operator,
            &namespace_set,
            Duration::from_secs(options.settle_window_seconds),
            Duration::from_secs(options.settle_max_seconds),
        )
        .await?;
        let settle_end = mark(client, epoch, Some(&operator)).await;
        report.phases.push(row(
            "settle (until nothing moves)",
            settle_seconds,
            &converged,
            &settle_end,
            &samples,
        ));
        let mut quiet = quiet::run(
            client,
            &operator,
            &namespace_set,
            Duration::from_secs(options.quiet_seconds),
        )
        .await?;
        quiet.settle_seconds = settle_seconds;
        quiet.settled = settled;
        let quiet_end = mark(client, epoch, Some(&operator)).await;
        report.phases.push(row(
            "**quiet**",
            quiet.seconds,
            &settle_end,
            &quiet_end,
            &samples,
        ));
        report.quiet = quiet;
        quiet_end
    };
    report.quiet.skipped = options.skip_quiet;

    // 4. Platform change.
    let expected: HashSet<(String, String)> = apps
        .iter()
        .map(|a| (a.namespace().unwrap_or_default(), a.name_any()))
        .collect();
    let platform = platform::run(
        client,
        expected,
        options.pre_stop_seconds,
        options.timeout(),
    )
    .await?;
    let platform_end = mark(client, epoch, Some(&operator)).await;
    report.phases.push(row(
        "**Platform change** (→ every Deployment)",
        platform.seconds,
        &quiet_end,
        &platform_end,
        &samples,
    ));
    report.platform_change = platform;

    // 5. Cleanup.
    if !options.skip_cleanup {
        let cleanup = cleanup::run(
            client,
            &namespace_set,
            options.interval(),
            options.timeout(),
        )
        .await?;
        let cleanup_end = mark(client, epoch, Some(&operator)).await;
        report.phases.push(row(
            "**cleanup** (Apps deleted → children collected)",
            cleanup.seconds,
            &platform_end,
            &cleanup_end,
            &samples,
        ));
        report.cleanup = cleanup;
    }

    // 6. Report.
    report.memory.vm_hwm_kib = operator.status_kib("VmHWM");
    report.operator_cpu_seconds = operator.cpu_seconds();
    report.totals = operator.metrics().await?;
    sampler.abort();
    operator.stop()?;
    report.log_errors = measure::classify_log_errors(&read_lossy(&log));
    {
        let samples = samples.lock().expect("lock");
        report.memory.peak_sampled_rss_kib = samples.rss.iter().map(|s| s.rss_kib).max();
        report.memory.samples = samples.rss.len();
        report.interference.other_operators_max = samples.other_operators_max;
        report.interference.other_operator_pids =
            samples.other_operator_pids.iter().copied().collect();
    }
    platforms.extend(cluster::foreign_platforms(client).await?);
    report.interference.foreign_platforms = platforms;

    cluster::delete_platform(client).await?;
    if !options.keep_namespaces {
        cluster::delete_namespaces(client, namespaces, options.timeout()).await?;
    }
    report.machine.load_average_at_end = load_average();
    report.targets = report::evaluate(&report);
    Ok(report)
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

async fn machine(client: &Client) -> report::Machine {
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

fn load_average() -> String {
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
