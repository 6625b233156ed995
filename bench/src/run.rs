//! One run of the harness, phase after phase (see the crate documentation).

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use baseplate_tests::install::install_crds;
use baseplate_tests::operator::{Identity, Operator, Settings};
use kube::{Client, ResourceExt};

use crate::machine::{load_average, machine};
use crate::measure::{self, MetricsSnapshot};
use crate::options::Options;
use crate::readings::{self, Samples, metrics_snapshot};
use crate::report::{self, PhaseRow, Report};
use crate::workload::HARNESS_MANAGER;
use crate::{baseline, cleanup, cluster, converge, floor, platform, quiet, restart, workload};

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
        Some(op) => metrics_snapshot(op).await.ok(),
        None => None,
    };
    Mark {
        at: epoch.elapsed().as_secs_f64(),
        metrics,
        cpu: operator.and_then(|op| readings::cpu_seconds(op.pid())),
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
    let samples = Arc::new(Mutex::new(Samples::default()));
    let mut platforms = cluster::foreign_platforms(client).await?;

    tracing::info!(
        apps = options.apps,
        "setting up: CRDs, clean load namespaces"
    );
    install_crds(client, &options.crds(), HARNESS_MANAGER).await?;
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

    // 1b. The same-work floor: the Apps, their children and one status each, with no operator.
    let floor_start = mark(client, epoch, None).await;
    let floor_children = workload::render_all(&apps)?;
    let floor = floor::run(client, &apps, &floor_children, options.apply_concurrency).await?;
    drop(floor_children);
    let floor_end = mark(client, epoch, None).await;
    report.phases.push(row(
        "**same-work floor** (Apps created, children applied, one status each; no operator)",
        floor.total_seconds,
        &floor_start,
        &floor_end,
        &samples,
    ));
    report.floor = floor;
    let deleted = cluster::delete_namespaces(client, namespaces, options.timeout()).await?;
    cluster::create_namespaces(client, namespaces).await?;
    cluster::wait_out_live_lookups(deleted).await;
    let reset = mark(client, epoch, None).await;

    // 2. Convergence.
    let log = options.operator_log();
    let settings = Settings {
        binary: operator_binary,
        log: log.clone(),
        args: vec![
            "--log-format".into(),
            "json".into(),
            "--concurrency".into(),
            options.operator_concurrency.to_string(),
        ],
        env: options.operator_env.clone(),
        identity: Identity::Caller,
    };
    let mut operator = Operator::start(&settings)?;
    tracing::info!(pid = operator.pid(), address = %operator.address(), log = %log.display(), "operator started");
    let mut sampler = readings::spawn_sampler(operator.pid(), epoch, samples.clone());
    let ready_seconds = operator
        .wait_until_ready(Duration::from_secs(120))
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
        report.per_new_app = per_new_app_between(options.apps, &ready, &converged);
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
        report.per_new_app = per_new_app_between(options.apps, &ready, &settle_end);
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

    // 3b. Operator restart with every App converged.
    let quiet_end = if options.skip_restart {
        report.restart.skipped = true;
        quiet_end
    } else {
        let restart_settings = Settings {
            log: options.restart_log(),
            ..settings.clone()
        };
        let (restarted, restart) = restart::run(
            &mut operator,
            &restart_settings,
            options.apps,
            Duration::from_secs(options.restart_window_seconds),
        )
        .await?;
        sampler.abort();
        operator = restarted;
        sampler = readings::spawn_sampler(operator.pid(), epoch, samples.clone());
        let restart_end = mark(client, epoch, Some(&operator)).await;
        // The new process's counters and CPU time start at zero.
        let restart_start = Mark {
            at: quiet_end.at,
            metrics: Some(MetricsSnapshot::default()),
            cpu: Some(0.0),
            api_server: quiet_end.api_server.clone(),
        };
        report.phases.push(row(
            "**operator restart** (stopped, started, watched)",
            restart.window_seconds,
            &restart_start,
            &restart_end,
            &samples,
        ));
        report.restart = restart;
        restart_end
    };

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
    report.memory.vm_hwm_kib = readings::proc_status_kib(operator.pid(), "VmHWM");
    report.operator_cpu_seconds = readings::cpu_seconds(operator.pid());
    report.totals = metrics_snapshot(&operator).await?;
    sampler.abort();
    operator.stop()?;
    let mut logs = read_lossy(&log);
    if !options.skip_restart {
        logs.push_str(&read_lossy(&options.restart_log()));
    }
    report.log_errors = measure::classify_log_errors(&logs);
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

fn per_new_app_between(apps: usize, from: &Mark, to: &Mark) -> report::PerApp {
    let operator = match (&from.metrics, &to.metrics) {
        (Some(a), Some(b)) => a.delta(b),
        _ => MetricsSnapshot::default(),
    };
    let api_server = match (&from.api_server, &to.api_server) {
        (Some(a), Some(b)) => measure::diff_counters(a, b),
        _ => measure::Counters::default(),
    };
    report::per_new_app(apps, &operator, &api_server)
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
