//! Prometheus metrics: reconciles by result, their duration, errors by category, child writes
//! by kind of change, and Apps by the status of their Ready condition.

use std::sync::Arc;
use std::time::Duration;

use baseplate_crd::App;
use kube::core::DeserializeGuard;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabel {
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabel {
    change: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabel {
    verb: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabel {
    condition: String,
    status: String,
}

/// A write to a child, as the `change` label of `baseplate_child_writes_total` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildWrite {
    Created,
    Updated,
    DriftCorrected,
    Pruned,
}

impl ChildWrite {
    fn label(self) -> &'static str {
        match self {
            ChildWrite::Created => "created",
            ChildWrite::Updated => "updated",
            ChildWrite::DriftCorrected => "drift_corrected",
            ChildWrite::Pruned => "pruned",
        }
    }
}

/// The registry every metric is registered in: names are prefixed `baseplate_`.
pub fn registry() -> Registry {
    Registry::with_prefix("baseplate")
}

/// The registry in the OpenMetrics text format, as `/metrics` serves it.
pub fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)
        .expect("writing to a String cannot fail");
    text
}

/// Handles on the operator's metrics. They share their values with the registry they were
/// registered in, so a clone records into the same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    reconciles: Family<ResultLabel, Counter>,
    duration: Histogram,
    errors: Family<CategoryLabel, Counter>,
    child_writes: Family<ChangeLabel, Counter>,
    apps: Family<ConditionLabel, Gauge>,
    api_requests: Family<VerbLabel, Counter>,
    leader: Gauge,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            reconciles: Family::default(),
            duration: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            errors: Family::default(),
            child_writes: Family::default(),
            apps: Family::default(),
            api_requests: Family::default(),
            leader: Gauge::default(),
        };
        registry.register(
            "reconciles",
            "Reconciles by result (synced, conflict, invalid, error)",
            metrics.reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took",
            metrics.duration.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles by error category",
            metrics.errors.clone(),
        );
        registry.register(
            "child_writes",
            "Children created, updated, drift-corrected or pruned",
            metrics.child_writes.clone(),
        );
        registry.register(
            "apps",
            "Apps by the status of a condition",
            metrics.apps.clone(),
        );
        registry.register(
            "api_requests",
            "Requests to the API server by verb (get covers list)",
            metrics.api_requests.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            metrics.leader.clone(),
        );
        metrics
    }

    /// A reconcile that ended with `result` (synced, conflict, awaiting_cache, awaiting_readiness, invalid).
    pub fn record_reconcile(&self, elapsed: Duration, result: &str) {
        self.duration.observe(elapsed.as_secs_f64());
        self.reconciles
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    /// A reconcile that failed with an error of `category`.
    pub fn record_reconcile_error(&self, elapsed: Duration, category: &str) {
        self.errors
            .get_or_create(&CategoryLabel {
                category: category.into(),
            })
            .inc();
        self.record_reconcile(elapsed, "error");
    }

    pub fn record_child_writes(&self, change: ChildWrite, count: usize) {
        if count > 0 {
            self.child_writes
                .get_or_create(&ChangeLabel {
                    change: change.label().into(),
                })
                .inc_by(count as u64);
        }
    }

    pub fn record_api_request(&self, verb: &str) {
        self.api_requests
            .get_or_create(&VerbLabel { verb: verb.into() })
            .inc();
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Recounts Apps by condition from the controller's cache.
    pub fn count_apps(&self, apps: &[Arc<DeserializeGuard<App>>]) {
        self.apps.clear();
        for guard in apps {
            let Ok(app) = &guard.0 else { continue };
            let conditions = app
                .status
                .as_ref()
                .map(|s| s.conditions.as_slice())
                .unwrap_or_default();
            for type_ in ["Ready", "Progressing", "Degraded"] {
                let status = conditions
                    .iter()
                    .find(|c| c.type_ == type_)
                    .map_or("Unknown", |c| c.status.as_str());
                self.apps
                    .get_or_create(&ConditionLabel {
                        condition: type_.into(),
                        status: status.into(),
                    })
                    .inc();
            }
        }
    }
}

/// The Kubernetes verb of a request, as far as the method and query tell it.
pub fn verb<B>(request: &http::Request<B>) -> &'static str {
    let watching = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    match *request.method() {
        http::Method::GET if watching => "watch",
        http::Method::GET => "get",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_appear_under_the_names_the_readme_lists() {
        let mut registry = registry();
        let metrics = Metrics::register(&mut registry);
        metrics.record_reconcile(Duration::from_millis(20), "synced");
        metrics.record_reconcile_error(Duration::from_millis(20), "apply");
        metrics.record_child_writes(ChildWrite::DriftCorrected, 2);
        metrics.record_child_writes(ChildWrite::Pruned, 0);
        metrics.record_api_request("patch");
        metrics.set_leader(true);
        let text = encode(&registry);
        for line in [
            r#"baseplate_reconciles_total{result="synced"} 1"#,
            r#"baseplate_reconciles_total{result="error"} 1"#,
            r#"baseplate_reconcile_errors_total{category="apply"} 1"#,
            r#"baseplate_child_writes_total{change="drift_corrected"} 2"#,
            r#"baseplate_api_requests_total{verb="patch"} 1"#,
            "baseplate_reconcile_duration_seconds_count 2",
            "baseplate_leader 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(
            !text.contains(r#"change="pruned""#),
            "no series for nothing written"
        );
    }

    #[test]
    fn verbs_from_requests() {
        let request = |method: &str, uri: &str| {
            http::Request::builder()
                .method(method)
                .uri(uri)
                .body(())
                .unwrap()
        };
        assert_eq!(
            verb(&request(
                "GET",
                "/api/v1/namespaces?watch=true&resourceVersion=5"
            )),
            "watch"
        );
        assert_eq!(
            verb(&request("GET", "/api/v1/namespaces/a/secrets/b")),
            "get"
        );
        assert_eq!(
            verb(&request(
                "PATCH",
                "/apis/apps/v1/namespaces/a/deployments/b?fieldManager=baseplate"
            )),
            "patch"
        );
        assert_eq!(
            verb(&request("DELETE", "/api/v1/namespaces/a/services/b")),
            "delete"
        );
        assert_eq!(
            verb(&request(
                "POST",
                "/apis/events.k8s.io/v1/namespaces/a/events"
            )),
            "create"
        );
    }
}
