//! The run's figures, the targets they are held against, the printed table and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::measure::{Counters, LogErrors, MetricsSnapshot, VersionDiff};

/// Convergence may take at most this multiple of the same-work floor (issue #14).
pub const CONVERGENCE_FACTOR: f64 = 1.2;
/// A Platform change may take at most this multiple of the direct update of the same
/// Deployments in the same run (issue #14).
pub const PLATFORM_FACTOR: f64 = 1.3;
/// Peak RSS budget of the operator (set for N=1000).
pub const RSS_LIMIT_MIB: f64 = 64.0;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_mib: u64,
    pub load_average_at_start: String,
    pub load_average_at_end: String,
    pub api_server_version: String,
    /// The commit the operator was built from (`+dirty` with local changes), if known.
    pub operator_commit: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Settings {
    pub apps: usize,
    pub namespaces: usize,
    pub apply_concurrency: usize,
    pub operator_concurrency: u16,
    pub operator_env: Vec<String>,
    pub quiet_seconds: u64,
    pub poll_interval_seconds: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Baseline {
    pub render_seconds: f64,
    pub objects: usize,
    pub total_seconds: f64,
    pub config_seconds: f64,
    pub deployment_seconds: f64,
    pub rest_seconds: f64,
    /// The same Deployments applied again with the Platform change's preStop: the API
    /// server's own speed for the updates a Platform change makes (not a target; context).
    pub deployment_update_seconds: f64,
    /// Deleting the baseline's namespaces (everything in them) and making them anew, then
    /// waiting out the API server's live namespace lookups (30 s after the deletion).
    pub reset_seconds: f64,
}

/// The same work an operator cannot avoid, done directly: see `floor.rs`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Floor {
    pub apps_seconds: f64,
    pub children_seconds: f64,
    pub status_seconds: f64,
    pub total_seconds: f64,
    pub objects: usize,
}

/// What the operator sent per new App during convergence and settling, as the API server
/// counted the requests (statuses and events) and the operator its child writes.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PerApp {
    pub child_writes: f64,
    pub status_writes: f64,
    pub operator_requests: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Convergence {
    pub operator_ready_seconds: f64,
    pub apps_created_seconds: f64,
    pub seconds: f64,
    pub polls: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Quiet {
    /// Not measured in this run (`--skip-quiet`).
    pub skipped: bool,
    pub settle_seconds: f64,
    pub settled: bool,
    pub seconds: f64,
    pub writes: f64,
    pub versions: VersionDiffSummary,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct VersionDiffSummary {
    pub changed: usize,
    pub changed_by_operator: usize,
    pub added: usize,
    pub removed: usize,
    pub by_kind: BTreeMap<String, usize>,
    pub examples: Vec<String>,
}

impl From<&VersionDiff> for VersionDiffSummary {
    fn from(diff: &VersionDiff) -> Self {
        Self {
            changed: diff.changed.len(),
            changed_by_operator: diff.changed_by_operator.len(),
            added: diff.added.len(),
            removed: diff.removed.len(),
            by_kind: diff.by_kind(),
            examples: diff
                .changed
                .iter()
                .chain(&diff.added)
                .chain(&diff.removed)
                .take(5)
                .cloned()
                .collect(),
        }
    }
}

/// The operator restarted with every App converged (`restart.rs`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Restart {
    /// Not measured in this run (`--skip-restart`).
    pub skipped: bool,
    pub apps: usize,
    pub window_seconds: f64,
    pub ready_seconds: f64,
    /// From the new process's start until it had done as many reconciles as there are Apps.
    pub every_app_reconciled_seconds: Option<f64>,
    pub writes: f64,
    pub requests_beyond_list_and_watch: f64,
    pub requests: Counters,
    pub child_writes: Counters,
}

/// Every App reconciled within this long of an operator restart (issue #14).
pub const RESTART_RECONCILED_SECONDS: f64 = 30.0;

#[derive(Clone, Debug, Default, Serialize)]
pub struct PlatformChange {
    pub seconds: f64,
    pub deployments: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Cleanup {
    pub seconds: f64,
}

/// One row of the phase table.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PhaseRow {
    pub phase: String,
    pub seconds: f64,
    /// What the operator did in the phase (from /metrics), if it was running.
    pub operator: Option<MetricsSnapshot>,
    pub operator_cpu_seconds: Option<f64>,
    pub peak_rss_kib: Option<u64>,
    /// Every client's requests in the phase, as the API server counted them.
    pub api_server: Option<Counters>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Memory {
    pub vm_hwm_kib: Option<u64>,
    pub peak_sampled_rss_kib: Option<u64>,
    pub samples: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Interference {
    /// Other `baseplate run` processes seen on this machine during the run (they reconcile
    /// every App in the cluster too, including these).
    pub other_operators_max: usize,
    pub other_operator_pids: Vec<u32>,
    /// Platforms not made by the harness, and whether they select every namespace.
    pub foreign_platforms: BTreeMap<String, bool>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub name: String,
    pub measured: String,
    pub limit: String,
    pub pass: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub started_at: String,
    pub machine: Machine,
    pub settings: Settings,
    pub baseline: Baseline,
    pub floor: Floor,
    pub convergence: Convergence,
    pub per_new_app: PerApp,
    pub quiet: Quiet,
    pub restart: Restart,
    pub platform_change: PlatformChange,
    pub cleanup: Cleanup,
    pub phases: Vec<PhaseRow>,
    pub memory: Memory,
    pub operator_cpu_seconds: Option<f64>,
    /// The operator's counters at the end of the run.
    pub totals: MetricsSnapshot,
    pub log_errors: LogErrors,
    pub interference: Interference,
    pub targets: Vec<Target>,
}

fn ratio(measured: f64, floor: f64) -> f64 {
    if floor > 0.0 {
        measured / floor
    } else {
        f64::NAN
    }
}

/// Per new App, from the operator's counters and the API server's request counts over
/// convergence and settling.
pub fn per_new_app(apps: usize, operator: &MetricsSnapshot, api_server: &Counters) -> PerApp {
    let n = apps.max(1) as f64;
    let sum = |c: &Counters| c.values().sum::<f64>();
    PerApp {
        child_writes: sum(&operator.child_writes) / n,
        status_writes: api_server.get("APPLY apps/status").copied().unwrap_or(0.0) / n,
        operator_requests: sum(&operator.api_requests) / n,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Holds the figures against the targets.
pub fn evaluate(report: &Report) -> Vec<Target> {
    let baseline = &report.baseline;
    let convergence_limit = CONVERGENCE_FACTOR * report.floor.total_seconds;
    let platform_limit = PLATFORM_FACTOR * baseline.deployment_update_seconds;
    let quiet = &report.quiet;
    let quiet_changes = quiet.versions.changed + quiet.versions.added + quiet.versions.removed;
    let peak_kib = report
        .memory
        .vm_hwm_kib
        .into_iter()
        .chain(report.memory.peak_sampled_rss_kib)
        .max();
    let errors: f64 = report.totals.errors.values().fold(0.0, |a, b| a + b);
    let log = &report.log_errors;
    vec![
        Target {
            name: format!("convergence ≤ {CONVERGENCE_FACTOR} × same-work floor"),
            measured: format!(
                "{:.1} s ({:.2} × floor, {:.2} × children-only baseline)",
                report.convergence.seconds,
                ratio(report.convergence.seconds, report.floor.total_seconds),
                ratio(report.convergence.seconds, baseline.total_seconds),
            ),
            limit: format!("{convergence_limit:.1} s"),
            pass: report.convergence.seconds <= convergence_limit,
        },
        Target {
            name: format!("Platform change ≤ {PLATFORM_FACTOR} × direct update of the Deployments"),
            measured: format!("{:.1} s", report.platform_change.seconds),
            limit: format!("{platform_limit:.1} s"),
            pass: report.platform_change.seconds <= platform_limit,
        },
        Target {
            name: format!(
                "zero operator writes in the quiet {} s",
                quiet.seconds.round()
            ),
            measured: if quiet.skipped {
                "not measured (--skip-quiet)".into()
            } else {
                format!(
                    "{} write requests, {quiet_changes} children changed ({} by the operator)",
                    quiet.writes, quiet.versions.changed_by_operator
                )
            },
            limit: "0".into(),
            pass: !quiet.skipped && quiet.writes == 0.0 && quiet_changes == 0,
        },
        Target {
            name: "operator restart with every App converged: zero writes".into(),
            measured: if report.restart.skipped {
                "not measured (--skip-restart)".into()
            } else {
                format!(
                    "{} writes, {} requests beyond LIST/WATCH ({})",
                    report.restart.writes,
                    report.restart.requests_beyond_list_and_watch,
                    counters(&report.restart.requests)
                )
            },
            limit: "0".into(),
            pass: !report.restart.skipped && report.restart.writes == 0.0,
        },
        Target {
            name: format!(
                "operator restart: every App reconciled within {RESTART_RECONCILED_SECONDS} s"
            ),
            measured: match (
                report.restart.skipped,
                report.restart.every_app_reconciled_seconds,
            ) {
                (true, _) => "not measured (--skip-restart)".into(),
                (false, Some(s)) => format!("{s:.1} s"),
                (false, None) => {
                    format!("not within the {} s window", report.restart.window_seconds)
                }
            },
            limit: format!("{RESTART_RECONCILED_SECONDS} s"),
            pass: !report.restart.skipped
                && report
                    .restart
                    .every_app_reconciled_seconds
                    .is_some_and(|s| s <= RESTART_RECONCILED_SECONDS),
        },
        Target {
            name: format!("peak RSS ≤ {RSS_LIMIT_MIB} MiB (set for N=1000)"),
            measured: peak_kib.map_or("unknown".into(), |k| format!("{:.1} MiB", mib(k))),
            limit: format!("{RSS_LIMIT_MIB} MiB"),
            pass: peak_kib.is_some_and(|k| mib(k) <= RSS_LIMIT_MIB),
        },
        Target {
            name: "no reconcile errors but transient conflicts".into(),
            measured: format!(
                "{errors} errors ({} conflicts, {} other in the log)",
                log.conflicts, log.other
            ),
            limit: "0 other".into(),
            // The log names each error; the counters alone cannot tell a conflict from the rest.
            pass: log.other == 0 && errors <= log.conflicts as f64,
        },
    ]
}

fn counters(counters: &Counters) -> String {
    if counters.is_empty() {
        return "-".into();
    }
    counters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn write_verbs(by_verb: &Counters) -> String {
    let mut parts: Vec<String> = crate::measure::WRITE_VERBS
        .iter()
        .filter_map(|v| by_verb.get(*v).map(|n| format!("{v}={n}")))
        .collect();
    if parts.is_empty() {
        parts.push("0".into());
    }
    parts.join(" ")
}

/// The table printed at the end of a run (and pasted into BENCHMARKS.md).
pub fn format(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.settings;
    let m = &report.machine;
    let _ = writeln!(
        out,
        "N={} Apps in {} namespaces ({} children); operator --concurrency {}{}; harness {} requests in flight",
        s.apps,
        s.namespaces,
        report.baseline.objects,
        s.operator_concurrency,
        if s.operator_env.is_empty() {
            String::new()
        } else {
            format!(" with {}", s.operator_env.join(" "))
        },
        s.apply_concurrency
    );
    let _ = writeln!(
        out,
        "machine: {} CPUs ({}), {} MiB memory, load average {} at start, {} at the end; API server {}; operator at {}",
        m.cpus,
        m.cpu_model,
        m.memory_mib,
        m.load_average_at_start,
        m.load_average_at_end,
        m.api_server_version,
        m.operator_commit
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| phase | time (s) | operator writes (by verb) | operator reads (get/watch) | operator CPU (s) | peak RSS (MiB) |"
    );
    let _ = writeln!(out, "|---|---:|---|---|---:|---:|");
    for row in &report.phases {
        let (writes, reads) = match &row.operator {
            Some(delta) => (
                write_verbs(&delta.api_requests),
                format!(
                    "{}/{}",
                    delta.api_requests.get("get").copied().unwrap_or(0.0),
                    delta.api_requests.get("watch").copied().unwrap_or(0.0)
                ),
            ),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {:.1} | {} | {} | {} | {} |",
            row.phase,
            row.seconds,
            writes,
            reads,
            row.operator_cpu_seconds
                .map_or("-".into(), |c| format!("{c:.1}")),
            row.peak_rss_kib
                .map_or("-".into(), |k| format!("{:.1}", mib(k))),
        );
    }
    let _ = writeln!(out);
    let mem = &report.memory;
    let _ = writeln!(
        out,
        "operator memory: VmHWM {}, peak sampled VmRSS {} ({} samples); CPU {}",
        mem.vm_hwm_kib
            .map_or("unknown".into(), |k| format!("{:.1} MiB", mib(k))),
        mem.peak_sampled_rss_kib
            .map_or("unknown".into(), |k| format!("{:.1} MiB", mib(k))),
        mem.samples,
        report
            .operator_cpu_seconds
            .map_or("unknown".into(), |c| format!("{c:.1} s")),
    );
    let t = &report.totals;
    let _ = writeln!(out, "reconciles: {}", counters(&t.reconciles));
    let _ = writeln!(out, "API requests: {}", counters(&t.api_requests));
    let _ = writeln!(out, "child writes: {}", counters(&t.child_writes));
    let p = &report.per_new_app;
    let _ = writeln!(
        out,
        "per new App (convergence + settling): {:.2} child writes, {:.2} status writes, {:.2} operator requests",
        p.child_writes, p.status_writes, p.operator_requests
    );
    let f = &report.floor;
    let _ = writeln!(
        out,
        "same-work floor: {:.1} s (Apps created {:.1} s, children applied {:.1} s, one status per App {:.1} s)",
        f.total_seconds, f.apps_seconds, f.children_seconds, f.status_seconds
    );
    let _ = writeln!(
        out,
        "reconcile errors: {} (log: {} conflicts, {} other)",
        counters(&t.errors),
        report.log_errors.conflicts,
        report.log_errors.other
    );
    for example in &report.log_errors.examples {
        let _ = writeln!(out, "  e.g. {example}");
    }
    let q = &report.quiet;
    let _ = writeln!(
        out,
        "quiet: settled in {:.1} s{}; children changed {} (by the operator {}, added {}, removed {}) {:?}",
        q.settle_seconds,
        if q.settled { "" } else { " (did NOT settle)" },
        q.versions.changed,
        q.versions.changed_by_operator,
        q.versions.added,
        q.versions.removed,
        q.versions.by_kind,
    );
    for row in &report.phases {
        if let Some(requests) = &row.api_server {
            let top = crate::measure::top(requests, 8)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                out,
                "API server, {} (all clients): {top}",
                row.phase.replace("**", "")
            );
        }
    }
    let i = &report.interference;
    if i.other_operators_max > 0 || !i.foreign_platforms.is_empty() {
        let _ = writeln!(
            out,
            "interference: up to {} other `baseplate run` processes; other Platforms {:?}",
            i.other_operators_max, i.foreign_platforms
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "| target | measured | limit | result |");
    let _ = writeln!(out, "|---|---|---|---|");
    for target in &report.targets {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            target.name,
            target.measured,
            target.limit,
            if target.pass { "PASS" } else { "FAIL" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut report = Report {
            settings: Settings {
                apps: 1000,
                namespaces: 10,
                apply_concurrency: 16,
                operator_concurrency: 8,
                operator_env: vec![],
                quiet_seconds: 60,
                poll_interval_seconds: 1.0,
            },
            baseline: Baseline {
                objects: 7000,
                total_seconds: 100.0,
                deployment_seconds: 15.0,
                deployment_update_seconds: 20.0,
                ..Default::default()
            },
            floor: Floor {
                total_seconds: 107.5,
                ..Default::default()
            },
            convergence: Convergence {
                seconds: 129.0,
                ..Default::default()
            },
            quiet: Quiet {
                settled: true,
                seconds: 60.0,
                ..Default::default()
            },
            restart: Restart {
                apps: 1000,
                window_seconds: 30.0,
                every_app_reconciled_seconds: Some(30.0),
                ..Default::default()
            },
            platform_change: PlatformChange {
                seconds: 26.0,
                deployments: 1000,
            },
            memory: Memory {
                vm_hwm_kib: Some(60 * 1024),
                peak_sampled_rss_kib: Some(59 * 1024),
                samples: 300,
            },
            totals: MetricsSnapshot {
                errors: Counters::from([("status".into(), 2.0)]),
                ..Default::default()
            },
            log_errors: LogErrors {
                conflicts: 2,
                ..Default::default()
            },
            ..Default::default()
        };
        report.phases.push(PhaseRow {
            phase: "convergence".into(),
            seconds: 129.0,
            operator: Some(MetricsSnapshot {
                api_requests: Counters::from([("patch".into(), 8000.0), ("get".into(), 1000.0)]),
                ..Default::default()
            }),
            operator_cpu_seconds: Some(42.0),
            peak_rss_kib: Some(50 * 1024),
            api_server: Some(Counters::from([
                ("PATCH deployments".into(), 1500.0),
                ("GET secrets".into(), 900.0),
            ])),
        });
        report
    }

    #[test]
    fn targets_hold_at_their_limits() {
        let targets = evaluate(&report());
        assert_eq!(targets.len(), 7);
        assert!(targets.iter().all(|t| t.pass), "{targets:#?}");
    }

    #[test]
    fn targets_fail_past_their_limits() {
        let mut r = report();
        r.convergence.seconds = 130.1;
        r.platform_change.seconds = 26.1;
        r.quiet.writes = 7.0;
        r.memory.vm_hwm_kib = Some(65 * 1024);
        r.log_errors.other = 1;
        r.restart.writes = 7000.0;
        r.restart.every_app_reconciled_seconds = None;
        let targets = evaluate(&r);
        assert!(targets.iter().all(|t| !t.pass), "{targets:#?}");

        // A child changed by anyone in the quiet minute fails it, even with no write request.
        let mut r = report();
        r.quiet.versions.changed = 1;
        assert!(!evaluate(&r)[2].pass);
        // Errors the log does not explain as conflicts fail the last target.
        let mut r = report();
        r.totals.errors.insert("apply".into(), 1.0);
        assert!(!evaluate(&r)[6].pass);
        // Unknown memory is not a pass.
        let mut r = report();
        r.memory = Memory::default();
        assert!(!evaluate(&r)[5].pass);
    }

    #[test]
    fn per_new_app_divides_the_operators_work_by_the_apps() {
        let operator = MetricsSnapshot {
            child_writes: Counters::from([("created".into(), 7000.0), ("updated".into(), 400.0)]),
            api_requests: Counters::from([("patch".into(), 9000.0), ("create".into(), 1000.0)]),
            ..Default::default()
        };
        let api_server = Counters::from([
            ("APPLY apps/status".into(), 1600.0),
            ("APPLY deployments".into(), 1400.0),
        ]);
        assert_eq!(
            per_new_app(1000, &operator, &api_server),
            PerApp {
                child_writes: 7.4,
                status_writes: 1.6,
                operator_requests: 10.0,
            }
        );
    }

    #[test]
    fn formats_one_table() {
        let mut r = report();
        r.targets = evaluate(&r);
        let text = format(&r);
        assert!(text.contains("N=1000 Apps in 10 namespaces (7000 children)"));
        assert!(
            text.contains("| convergence | 129.0 | patch=8000 | 1000/0 | 42.0 | 50.0 |"),
            "{text}"
        );
        assert!(text.contains("VmHWM 60.0 MiB"));
        assert!(
            text.contains("| convergence ≤ 1.2 × same-work floor | 129.0 s (1.20 × floor, 1.29 × children-only baseline) | 129.0 s | PASS |"),
            "{text}"
        );
        assert!(text.contains("reconcile errors: status=2 (log: 2 conflicts, 0 other)"));
        assert!(!text.contains("interference"));
        assert!(
            text.contains(
                "API server, convergence (all clients): PATCH deployments=1500, GET secrets=900"
            ),
            "{text}"
        );
        assert_eq!(text.matches("PASS").count(), 7);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["baseline"]["total_seconds"], 100.0);
    }
}
