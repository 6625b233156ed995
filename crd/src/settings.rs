//! The resolved settings rendering works from, and where each value came from.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscalerBehavior, MetricSpec};
use k8s_openapi::api::core::v1::{Affinity, PodSecurityContext, SecurityContext, Toleration};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use crate::app::Probe;

/// Which layer a resolved value came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    BuiltIn,
    Platform(String),
    App,
    /// Computed from other settings by a cross-field rule, which the text names.
    Rule(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::BuiltIn => f.write_str("built-in"),
            Source::Platform(name) => write!(f, "platform/{name}"),
            Source::App => f.write_str("app"),
            Source::Rule(rule) => write!(f, "rule: {rule}"),
        }
    }
}

/// A resolved value (as JSON text) and the layer that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Provenance {
    pub value: String,
    pub source: Source,
}

/// Autoscaler settings when autoscaling is on.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaSettings {
    pub min_replicas: i32,
    pub max_replicas: i32,
    /// `None`: other metrics replace the CPU target (see [`crate::rules::cpu_target_unless_replaced`]).
    pub target_cpu_utilization_percentage: Option<i32>,
    pub target_memory_utilization_percentage: Option<i32>,
    /// Extra metrics, as the HPA takes them.
    pub metrics: Vec<MetricSpec>,
    /// `None` for Kubernetes' default behaviour in both directions.
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

/// Requests and limits for one container.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceSettings {
    pub cpu: String,
    pub memory: String,
    pub cpu_limit: Option<String>,
    pub memory_limit: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IngressSettings {
    pub class_name: Option<String>,
    pub host: String,
    pub paths: Vec<String>,
    /// Service port name the Ingress routes to.
    pub port: String,
    pub tls: Option<TlsSettings>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TlsSettings {
    pub cluster_issuer: Option<String>,
    pub secret_name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TopologySettings {
    pub topology_keys: Vec<String>,
    pub max_skew: i32,
    pub when_unsatisfiable: String,
}

/// What every Job Baseplate makes (the migration, each cron run) is bounded by.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSettings {
    /// The Job's `activeDeadlineSeconds`.
    pub timeout_seconds: i64,
    pub backoff_limit: i32,
}

/// The migration Job, when the App has `migrate`.
#[derive(Clone, Debug, PartialEq)]
pub struct MigrationSettings {
    pub job: JobSettings,
    /// Migration Jobs kept, the current version's included.
    pub history_limit: i32,
}

/// One entry of `cronJobs`, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct CronJobSettings {
    pub name: String,
    pub time_zone: String,
    pub concurrency_policy: String,
    pub starting_deadline_seconds: i64,
    pub successful_jobs_history_limit: i32,
    pub failed_jobs_history_limit: i32,
    pub job: JobSettings,
    pub resources: ResourceSettings,
}

/// Where the pods may run; each `None` leaves it to the scheduler.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlacementSettings {
    pub node_selector: Option<BTreeMap<String, String>>,
    pub tolerations: Option<Vec<Toleration>>,
    pub affinity: Option<Affinity>,
    pub priority_class_name: Option<String>,
}

/// Everything rendering needs, fully resolved. Built only by [`crate::resolve::resolve`].
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub name: String,
    pub namespace: String,
    /// `None`: a fixed number of replicas.
    pub autoscaling: Option<HpaSettings>,
    /// Used when autoscaling is off.
    pub replicas: i32,
    pub resources: ResourceSettings,
    /// Resources of each sidecar, by sidecar name.
    pub sidecar_resources: BTreeMap<String, ResourceSettings>,
    /// `None` when the main container has no port and asked for no probe.
    pub readiness_probe: Option<Probe>,
    pub pre_stop_sleep_seconds: i64,
    pub termination_grace_period_seconds: i64,
    pub max_surge: IntOrString,
    pub max_unavailable: IntOrString,
    pub min_ready_seconds: i32,
    pub progress_deadline_seconds: i32,
    pub revision_history_limit: i32,
    /// `maxUnavailable` of the PDB, `None` when there is no PDB.
    pub pdb_max_unavailable: Option<IntOrString>,
    pub ingress: Option<IngressSettings>,
    pub pod_security_context: PodSecurityContext,
    pub container_security_context: SecurityContext,
    pub automount_service_account_token: bool,
    pub topology_spread: Option<TopologySettings>,
    pub placement: PlacementSettings,
    /// Names of the image pull Secrets of every pod: the Platforms' and the App's, once each.
    pub image_pull_secrets: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub config_mount_path: String,
    pub migration: Option<MigrationSettings>,
    /// In the order of the App's `cronJobs`.
    pub cron_jobs: Vec<CronJobSettings>,
    /// No Deployment, Service, HPA, PDB or Ingress (see `AppSpec::is_batch_only`).
    pub batch_only: bool,
    /// Which layer set each value, keyed by its path in the Platform's `defaults`.
    pub provenance: BTreeMap<String, Provenance>,
    /// The Platforms that applied, lowest priority first.
    pub platforms: Vec<String>,
}

impl Settings {
    /// The URL the Ingress serves the App at, when it has one.
    pub fn url(&self) -> Option<String> {
        let ingress = self.ingress.as_ref()?;
        let scheme = if ingress.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let path = ingress.paths.first().map_or("/", String::as_str);
        Some(format!("{scheme}://{}{path}", ingress.host))
    }
}
