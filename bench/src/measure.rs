//! Pure measurement logic: Prometheus text into counters, counter and resourceVersion diffs,
//! `/proc` parsing, operator log classification. No I/O here, so all of it is unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// Counters by label value (e.g. `{"patch": 812.0, "get": 40.0}`).
pub type Counters = BTreeMap<String, f64>;

/// One sample of the Prometheus/OpenMetrics text format.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses Prometheus or OpenMetrics text. Comments, `# EOF` and malformed lines are skipped.
pub fn parse_prometheus(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_sample).collect()
}

fn parse_sample(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = match line.find('{') {
        Some(open) if line[..open].find(char::is_whitespace).is_none() => {
            let (labels, consumed) = parse_labels(&line[open + 1..])?;
            (&line[..open], labels, &line[open + 1 + consumed..])
        }
        _ => {
            let end = line.find(char::is_whitespace)?;
            (&line[..end], BTreeMap::new(), &line[end..])
        }
    };
    // The value, then an optional timestamp (and in OpenMetrics, an optional exemplar).
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Parses `k="v",k2="v2"}` and returns the labels and the bytes consumed (through the `}`).
fn parse_labels(text: &str) -> Option<(BTreeMap<String, String>, usize)> {
    let mut labels = BTreeMap::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i] == b',' || bytes[i] == b' ') {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        if bytes[i] == b'}' {
            return Some((labels, i + 1));
        }
        let eq = text[i..].find('=')? + i;
        let key = text[i..eq].trim().to_string();
        i = eq + 1;
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        i += 1;
        let mut value = String::new();
        let mut chars = text[i..].char_indices();
        loop {
            let (at, c) = chars.next()?;
            match c {
                '"' => {
                    i += at + 1;
                    break;
                }
                '\\' => {
                    let (_, escaped) = chars.next()?;
                    value.push(match escaped {
                        'n' => '\n',
                        other => other,
                    });
                }
                c => value.push(c),
            }
        }
        labels.insert(key, value);
    }
}

/// The values of one metric family keyed by one label, e.g. `api_requests_total` by `verb`.
/// Series of the same label value are summed.
pub fn by_label(samples: &[Sample], name: &str, label: &str) -> Counters {
    let mut counters = Counters::new();
    for sample in samples.iter().filter(|s| s.name == name) {
        let key = sample.labels.get(label).cloned().unwrap_or_default();
        *counters.entry(key).or_default() += sample.value;
    }
    counters
}

/// `after - before` per key; a key missing on one side counts as 0. Zero differences are left out.
pub fn diff_counters(before: &Counters, after: &Counters) -> Counters {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let delta =
                after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0);
            (delta != 0.0).then(|| (key.clone(), delta))
        })
        .collect()
}

/// The verbs that change something in the cluster.
pub const WRITE_VERBS: [&str; 4] = ["create", "update", "patch", "delete"];

/// Sum of the write verbs in a by-verb counter (or counter diff).
pub fn writes(by_verb: &Counters) -> f64 {
    WRITE_VERBS
        .iter()
        .map(|v| by_verb.get(*v).copied().unwrap_or(0.0))
        .sum()
}

/// What one object looked like in a snapshot: its resourceVersion and the time of the
/// operator's last applied change to it (from managedFields), if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Version {
    pub resource_version: String,
    pub operator_time: Option<String>,
}

/// `Kind/namespace/name` → version.
pub type Versions = BTreeMap<String, Version>;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VersionDiff {
    /// Objects whose resourceVersion changed.
    pub changed: Vec<String>,
    /// Of those, the ones whose change the operator made (its managedFields entry moved).
    pub changed_by_operator: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl VersionDiff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }

    /// Changed, added and removed objects counted by kind (the key's first segment).
    pub fn by_kind(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for key in self.changed.iter().chain(&self.added).chain(&self.removed) {
            let kind = key.split('/').next().unwrap_or_default().to_string();
            *counts.entry(kind).or_default() += 1;
        }
        counts
    }
}

pub fn diff_versions(before: &Versions, after: &Versions) -> VersionDiff {
    let mut diff = VersionDiff::default();
    for (key, old) in before {
        match after.get(key) {
            None => diff.removed.push(key.clone()),
            Some(new) if new.resource_version != old.resource_version => {
                diff.changed.push(key.clone());
                if new.operator_time != old.operator_time {
                    diff.changed_by_operator.push(key.clone());
                }
            }
            Some(_) => {}
        }
    }
    diff.added = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .cloned()
        .collect();
    diff
}

/// A `/proc/<pid>/status` field in kibibytes, e.g. `VmHWM` or `VmRSS`.
pub fn proc_status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (key, rest) = line.split_once(':')?;
        if key.trim() != field {
            return None;
        }
        let mut parts = rest.split_whitespace();
        let value: u64 = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") | None => Some(value),
            Some("mB") => Some(value * 1024),
            _ => None,
        }
    })
}

/// User + system CPU time in clock ticks from `/proc/<pid>/stat`.
pub fn proc_stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Failed reconciles in the operator's JSON log, split into transient conflicts (HTTP 409)
/// and everything else.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogErrors {
    pub conflicts: u64,
    pub other: u64,
    /// Up to five messages of the `other` kind, for the report.
    pub examples: Vec<String>,
}

pub fn classify_log_errors(log: &str) -> LogErrors {
    let mut errors = LogErrors::default();
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if entry["message"].as_str() != Some("reconcile failed") {
            continue;
        }
        let error = entry["error"].as_str().unwrap_or_default();
        // A child found to exist a moment before the cache showed it: retried like a conflict.
        let cache_race = entry["category"].as_str() == Some("cache");
        if is_conflict(error) || cache_race {
            errors.conflicts += 1;
        } else {
            errors.other += 1;
            if errors.examples.len() < 5 {
                let mut example: String = error.chars().take(300).collect();
                if let Some(category) = entry["category"].as_str() {
                    example = format!("[{category}] {example}");
                }
                errors.examples.push(example);
            }
        }
    }
    errors
}

/// Whether a reconcile error's text is an API conflict (409), which a retry resolves.
pub fn is_conflict(error: &str) -> bool {
    error.contains("code: 409") || error.contains("reason: \"Conflict\"")
}

/// `apiserver_request_total` summed by `VERB resource[/subresource]` (over codes, scopes, groups).
pub fn requests_by_resource(samples: &[Sample]) -> Counters {
    let mut counters = Counters::new();
    for sample in samples
        .iter()
        .filter(|s| s.name == "apiserver_request_total")
    {
        let label = |k: &str| sample.labels.get(k).map(String::as_str).unwrap_or_default();
        let mut key = format!("{} {}", label("verb"), label("resource"));
        if !label("subresource").is_empty() {
            key = format!("{key}/{}", label("subresource"));
        }
        *counters.entry(key).or_default() += sample.value;
    }
    counters
}

/// The `n` largest entries, largest first.
pub fn top(counters: &Counters, n: usize) -> Vec<(String, f64)> {
    let mut entries: Vec<(String, f64)> = counters.iter().map(|(k, v)| (k.clone(), *v)).collect();
    entries.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    entries.truncate(n);
    entries
}

/// The operator's counters at one moment, from its /metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    pub reconciles: Counters,
    pub api_requests: Counters,
    pub errors: Counters,
    pub child_writes: Counters,
}

impl MetricsSnapshot {
    pub fn from_text(text: &str) -> Self {
        let samples = parse_prometheus(text);
        Self {
            reconciles: by_label(&samples, "baseplate_reconciles_total", "result"),
            api_requests: by_label(&samples, "baseplate_api_requests_total", "verb"),
            errors: by_label(&samples, "baseplate_reconcile_errors_total", "category"),
            child_writes: by_label(&samples, "baseplate_child_writes_total", "change"),
        }
    }

    /// What happened between `self` and `later`.
    pub fn delta(&self, later: &Self) -> Self {
        Self {
            reconciles: diff_counters(&self.reconciles, &later.reconciles),
            api_requests: diff_counters(&self.api_requests, &later.api_requests),
            errors: diff_counters(&self.errors, &later.errors),
            child_writes: diff_counters(&self.child_writes, &later.child_writes),
        }
    }
}

/// Whether a NUL-separated `/proc/<pid>/cmdline` is a `baseplate run` (an operator).
pub fn is_operator_cmdline(cmdline: &[u8]) -> bool {
    let mut args = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned());
    let Some(program) = args.next() else {
        return false;
    };
    let program = program.rsplit('/').next().unwrap_or_default().to_string();
    program == "baseplate" && args.next().as_deref() == Some("run")
}

/// One VmRSS sample of the operator, `at` seconds after the harness started.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RssSample {
    pub at: f64,
    pub rss_kib: u64,
}

/// Highest sampled RSS in `[from, to]` (seconds since the harness started).
pub fn peak_between(samples: &[RssSample], from: f64, to: f64) -> Option<u64> {
    samples
        .iter()
        .filter(|s| s.at >= from && s.at <= to)
        .map(|s| s.rss_kib)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = r#"# HELP baseplate_reconciles Reconciles by result (synced, invalid, error).
# TYPE baseplate_reconciles counter
baseplate_reconciles_total{result="synced"} 1200
baseplate_reconciles_total{result="error"} 3
# HELP baseplate_api_requests Requests to the API server by verb (get covers list).
# TYPE baseplate_api_requests counter
baseplate_api_requests_total{verb="patch"} 8400
baseplate_api_requests_total{verb="watch"} 12
baseplate_api_requests_total{verb="get"} 1015
baseplate_reconcile_duration_seconds_bucket{le="+Inf"} 1203
baseplate_reconcile_duration_seconds_sum 17.5
baseplate_leader 1
weird_total{path="a\"b,c}",x="1"} 2 1700000000
# EOF
"#;

    #[test]
    fn parses_prometheus_text() {
        let samples = parse_prometheus(METRICS);
        assert_eq!(samples.len(), 9);
        let verbs = by_label(&samples, "baseplate_api_requests_total", "verb");
        assert_eq!(verbs["patch"], 8400.0);
        assert_eq!(verbs["get"], 1015.0);
        assert_eq!(verbs.len(), 3);
        let results = by_label(&samples, "baseplate_reconciles_total", "result");
        assert_eq!(results["synced"], 1200.0);
        let inf = samples
            .iter()
            .find(|s| s.name == "baseplate_reconcile_duration_seconds_bucket")
            .unwrap();
        assert_eq!(inf.labels["le"], "+Inf");
        let leader = samples
            .iter()
            .find(|s| s.name == "baseplate_leader")
            .unwrap();
        assert!(leader.labels.is_empty());
        assert_eq!(leader.value, 1.0);
        let weird = samples.iter().find(|s| s.name == "weird_total").unwrap();
        assert_eq!(weird.labels["path"], "a\"b,c}");
        assert_eq!(weird.labels["x"], "1");
        assert_eq!(weird.value, 2.0);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let samples = parse_prometheus("novalue\nbad{x=\"1\" 3\nok 4\n");
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].name, "ok");
    }

    #[test]
    fn counter_diffs() {
        let before = Counters::from([("patch".into(), 10.0), ("get".into(), 5.0)]);
        let after = Counters::from([
            ("patch".into(), 10.0),
            ("get".into(), 9.0),
            ("create".into(), 2.0),
        ]);
        let diff = diff_counters(&before, &after);
        assert_eq!(
            diff,
            Counters::from([("get".into(), 4.0), ("create".into(), 2.0)])
        );
        assert_eq!(writes(&diff), 2.0);
        assert_eq!(writes(&diff_counters(&before, &before)), 0.0);
    }

    fn version(rv: &str, time: Option<&str>) -> Version {
        Version {
            resource_version: rv.into(),
            operator_time: time.map(String::from),
        }
    }

    #[test]
    fn version_diffs() {
        let before = Versions::from([
            ("Deployment/load-0/a".into(), version("1", Some("t1"))),
            ("Deployment/load-0/b".into(), version("2", Some("t1"))),
            ("Service/load-0/a".into(), version("3", Some("t1"))),
            ("ConfigMap/load-0/a".into(), version("4", Some("t1"))),
        ]);
        let after = Versions::from([
            // Status written by another controller: changed, not by the operator.
            ("Deployment/load-0/a".into(), version("10", Some("t1"))),
            // Re-applied by the operator.
            ("Deployment/load-0/b".into(), version("11", Some("t2"))),
            ("Service/load-0/a".into(), version("3", Some("t1"))),
            ("Ingress/load-0/a".into(), version("12", Some("t2"))),
        ]);
        let diff = diff_versions(&before, &after);
        assert_eq!(diff.changed, ["Deployment/load-0/a", "Deployment/load-0/b"]);
        assert_eq!(diff.changed_by_operator, ["Deployment/load-0/b"]);
        assert_eq!(diff.added, ["Ingress/load-0/a"]);
        assert_eq!(diff.removed, ["ConfigMap/load-0/a"]);
        assert!(!diff.is_empty());
        assert_eq!(
            diff.by_kind(),
            BTreeMap::from([
                ("ConfigMap".into(), 1),
                ("Deployment".into(), 2),
                ("Ingress".into(), 1)
            ])
        );
        assert!(diff_versions(&before, &before).is_empty());
    }

    #[test]
    fn proc_status_fields() {
        let status = "Name:\tbaseplate\nUmask:\t0022\nVmPeak:\t 1231232 kB\nVmHWM:\t   41234 kB\nVmRSS:\t   40000 kB\nThreads:\t5\n";
        assert_eq!(proc_status_kib(status, "VmHWM"), Some(41234));
        assert_eq!(proc_status_kib(status, "VmRSS"), Some(40000));
        assert_eq!(proc_status_kib(status, "VmSwap"), None);
        assert_eq!(proc_status_kib(status, "Threads"), Some(5));
    }

    #[test]
    fn proc_stat_cpu() {
        let stat = "4242 (base plate) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 100 1000000 10000 18446744073709551615";
        assert_eq!(proc_stat_cpu_ticks(stat), Some(300));
        assert_eq!(proc_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn log_errors_are_classified() {
        let log = [
            r#"{"timestamp":"t","level":"INFO","message":"event","reason":"Created"}"#,
            r#"{"level":"WARN","message":"reconcile failed","category":"status","error":"writing the status of App.v1alpha1.baseplate.dev/a.load-0: ApiError: the object has been modified: Conflict (Status { status: Some(Failure), code: 409, message: \"x\", reason: \"Conflict\" })"}"#,
            r#"{"level":"WARN","message":"reconcile failed","category":"apply","error":"applying Deployment/a: HyperError: connection reset"}"#,
            "not json",
        ]
        .join("\n");
        let errors = classify_log_errors(&log);
        assert_eq!(errors.conflicts, 1);
        assert_eq!(errors.other, 1);
        assert_eq!(
            errors.examples,
            ["[apply] applying Deployment/a: HyperError: connection reset"]
        );
    }

    #[test]
    fn metrics_snapshots_and_deltas() {
        let before = MetricsSnapshot::from_text(METRICS);
        assert_eq!(before.api_requests["patch"], 8400.0);
        assert_eq!(before.reconciles["error"], 3.0);
        assert!(before.errors.is_empty());
        let later_text = METRICS.replace("{verb=\"patch\"} 8400", "{verb=\"patch\"} 8407")
            + "baseplate_reconcile_errors_total{category=\"apply\"} 2\n";
        let later = MetricsSnapshot::from_text(&later_text);
        let delta = before.delta(&later);
        assert_eq!(delta.api_requests, Counters::from([("patch".into(), 7.0)]));
        assert_eq!(delta.errors, Counters::from([("apply".into(), 2.0)]));
        assert!(delta.reconciles.is_empty());
        assert_eq!(writes(&delta.api_requests), 7.0);
    }

    #[test]
    fn operator_processes_are_recognised() {
        assert!(is_operator_cmdline(
            b"/work/target/release/baseplate\0run\0--leader-election=false\0"
        ));
        assert!(is_operator_cmdline(b"baseplate\0run"));
        assert!(!is_operator_cmdline(b"/usr/bin/baseplate\0render\0x.yaml"));
        assert!(!is_operator_cmdline(b"/bin/bash\0-c\0baseplate run"));
        assert!(!is_operator_cmdline(b""));
    }

    #[test]
    fn rss_peaks() {
        let samples = [
            RssSample {
                at: 1.0,
                rss_kib: 10,
            },
            RssSample {
                at: 2.0,
                rss_kib: 30,
            },
            RssSample {
                at: 3.0,
                rss_kib: 20,
            },
        ];
        assert_eq!(peak_between(&samples, 0.0, 10.0), Some(30));
        assert_eq!(peak_between(&samples, 2.5, 10.0), Some(20));
        assert_eq!(peak_between(&samples, 5.0, 10.0), None);
    }

    #[test]
    fn api_server_requests_by_resource() {
        let text = r#"# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="PATCH",version="v1"} 10
apiserver_request_total{code="201",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="PATCH",version="v1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="baseplate.dev",resource="apps",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="GET",version="v1"} 3
apiserver_request_duration_seconds_count{verb="GET"} 99
"#;
        let counters = requests_by_resource(&parse_prometheus(text));
        assert_eq!(counters["PATCH deployments"], 15.0);
        assert_eq!(counters["PATCH apps/status"], 7.0);
        assert_eq!(counters.len(), 3);
        assert_eq!(
            top(&counters, 2),
            [
                ("PATCH deployments".to_string(), 15.0),
                ("PATCH apps/status".to_string(), 7.0)
            ]
        );
    }
}
