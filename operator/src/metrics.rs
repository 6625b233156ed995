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

use crate::controller::children::Report;
use crate::controller::error::Error;
use crate::controller::reconcile::Outcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CategoryLabel {
    pub category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChangeLabel {
    pub change: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerbLabel {
    pub verb: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabel {
    pub condition: String,
    pub status: String,
}

pub struct Metrics {
    pub registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    duration: Histogram,
    errors: Family<CategoryLabel, Counter>,
    child_writes: Family<ChangeLabel, Counter>,
    apps: Family<ConditionLabel, Gauge>,
    pub api_requests: Family<VerbLabel, Counter>,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("baseplate");
        let reconciles = Family::<ResultLabel, Counter>::default();
        let duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        let errors = Family::<CategoryLabel, Counter>::default();
        let child_writes = Family::<ChangeLabel, Counter>::default();
        let apps = Family::<ConditionLabel, Gauge>::default();
        let api_requests = Family::<VerbLabel, Counter>::default();
        let leader = Gauge::default();
        registry.register(
            "reconciles",
            "Reconciles by result (synced, conflict, invalid, error)",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took",
            duration.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles by error category",
            errors.clone(),
        );
        registry.register(
            "child_writes",
            "Children created, updated, drift-corrected or pruned",
            child_writes.clone(),
        );
        registry.register("apps", "Apps by the status of a condition", apps.clone());
        registry.register(
            "api_requests",
            "Requests to the API server by verb (get covers list)",
            api_requests.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            duration,
            errors,
            child_writes,
            apps,
            api_requests,
            leader,
        }
    }
}

impl Metrics {
    pub fn observe_reconcile(&self, elapsed: Duration, result: &Result<Outcome, Error>) {
        self.duration.observe(elapsed.as_secs_f64());
        let result = match result {
            Ok(Outcome::Synced) => "synced",
            Ok(Outcome::Conflict) => "conflict",
            Ok(Outcome::AwaitingCache) => "awaiting_cache",
            Ok(Outcome::Invalid) => "invalid",
            Err(error) => {
                self.errors
                    .get_or_create(&CategoryLabel {
                        category: error.category().into(),
                    })
                    .inc();
                "error"
            }
        };
        self.reconciles
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    pub fn record_writes(&self, report: &Report) {
        for (change, items) in [
            ("created", &report.created),
            ("updated", &report.updated),
            ("drift_corrected", &report.drift_corrected),
            ("pruned", &report.pruned),
        ] {
            if !items.is_empty() {
                self.child_writes
                    .get_or_create(&ChangeLabel {
                        change: change.into(),
                    })
                    .inc_by(items.len() as u64);
            }
        }
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

    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
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
