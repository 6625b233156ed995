//! The `Platform` custom resource: what SREs tune.
//!
//! A Platform is cluster-scoped, selects namespaces and has a priority. For an App, the
//! layers merge field by field: built-in defaults < matching Platforms by ascending priority
//! (ties broken by name) < the App's own fields. `limits` are guardrails: every matching
//! Platform's limits hold at once.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, PodSecurityContext, SecurityContext, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::app::{Autoscaling, ImagePullSecret, Probe, Resources};

/// Cluster-wide defaults and guardrails for the Apps in the namespaces it selects.
// Several printer columns share a `type_`: clippy reads them as one attribute repeated.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "baseplate.dev",
    version = "v1alpha1",
    kind = "Platform",
    shortname = "bplatform",
    category = "baseplate",
    derive = "PartialEq",
    derive = "Default",
    doc = "Defaults and guardrails that Baseplate applies to every App in the namespaces it selects.",
    status = "PlatformStatus",
    printcolumn(name = "Priority", type_ = "integer", json_path = ".spec.priority"),
    printcolumn(
        name = "Selected",
        type_ = "integer",
        json_path = ".status.selectedApps"
    ),
    printcolumn(
        name = "Updated",
        type_ = "integer",
        json_path = ".status.appsAtNewestRevision"
    ),
    printcolumn(
        name = "Failed",
        type_ = "integer",
        json_path = ".status.failedAppCount"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformSpec {
    /// Higher priority wins where two matching Platforms set the same default.
    #[serde(default)]
    #[x_kube(validation = ("self >= -1000 && self <= 1000", "priority must be between -1000 and 1000"))]
    pub priority: i32,
    /// Namespaces this Platform applies to. Leave out to apply to every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::namespace_selector::NamespaceSelectorSchema>")]
    pub namespace_selector: Option<LabelSelector>,
    /// Values every App gets unless it sets its own.
    #[serde(default)]
    pub defaults: PlatformDefaults,
    /// Guardrails an App cannot exceed.
    #[serde(default)]
    pub limits: PlatformLimits,
    /// How a change of this Platform spreads over the Apps it selects: in waves, stopping by
    /// itself when Apps fail. Leave out to apply every change to every App at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutPolicy>,
}

/// How the Platform's newest revision is spreading, written by the operator once per wave step
/// and once per change in the failed Apps (never per App: the counts are as of that write).
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlatformStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The ControllerRevision (in the operator's namespace) holding the newest spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Its number: one more for every change of the spec, a revert included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<i64>,
    /// The wave reached, counted from 0 (index into `spec.rollout.waves`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<i32>,
    /// `Progressing`, `Paused` or `Complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Apps in the namespaces the Platform selects.
    #[serde(default)]
    pub selected_apps: i32,
    /// Of those, the Apps rendered from the newest revision.
    #[serde(default)]
    pub apps_at_newest_revision: i32,
    /// Apps that failed under the newest revision.
    #[serde(default)]
    pub failed_app_count: i32,
    /// The first of them, with why they failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub failed_apps: Vec<FailedApp>,
    /// Failures a resume accepted: the rollout pauses again when this many plus
    /// `pauseAfterFailedApps` have failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub accepted_failures: i32,
    /// The value of the `baseplate.dev/resume-rollout` annotation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<String>,
    /// `RolledOut`: every selected App is at the newest revision and done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// An App that failed under the newest revision.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FailedApp {
    /// `namespace/name`.
    pub app: String,
    /// The reason of its Degraded condition.
    pub reason: String,
    pub message: String,
}

/// The annotation that resumes a paused rollout: set it to a new value each time, such as
/// `kubectl annotate platform NAME baseplate.dev/resume-rollout="$(date +%s)" --overwrite`.
pub const RESUME_ANNOTATION: &str = "baseplate.dev/resume-rollout";

/// Waves are percentages only: a share of the selected Apps stays meaningful as Apps come and
/// go, where a count would need re-checking against the number selected.
pub const WAVE_PATTERN: &str = "^(100|[1-9][0-9]?)%$";

/// Each wave below the next, both matching [`WAVE_PATTERN`] (no leading zeros): the shorter
/// number is smaller, and numbers of one length compare as text. CEL's comprehensions carry no
/// index, so the rule walks the indices of the longest list `waves` may be (10).
macro_rules! wave_increasing_rule {
    () => {
        "[0, 1, 2, 3, 4, 5, 6, 7, 8].all(i, i + 1 >= size(self) || size(self[i]) < size(self[i + 1]) || (size(self[i]) == size(self[i + 1]) && self[i] < self[i + 1]))"
    };
}

/// `spec.rollout`: the waves a change of the Platform moves through and the health gate.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutPolicy {
    /// Share of the selected Apps at the new revision after each step, such as
    /// `[1%, 10%, 50%, 100%]`: strictly increasing, ending at `100%`. Apps in canary namespaces
    /// move in the first wave whatever its share.
    #[x_kube(validation = (wave_increasing_rule!(), "waves must be strictly increasing, such as [1%, 10%, 50%, 100%]; remove or reorder the repeated or smaller wave"))]
    #[x_kube(validation = ("size(self) > 0 && self[size(self) - 1] == '100%'", "waves must end at 100% so that every App gets the change; add 100% as the last wave"))]
    #[schemars(length(max = 10), extend("items" = {"type": "string", "pattern": WAVE_PATTERN, "maxLength": 4}))]
    pub waves: Vec<String>,
    /// The rollout pauses when this many Apps have failed under the new revision. Built-in 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 10000", "pauseAfterFailedApps must be between 1 and 10000: 0 would pause every rollout before it starts"))]
    pub pause_after_failed_apps: Option<i32>,
    /// An App counts as done when Ready this long at the new revision. Built-in 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 86400", "rollout.minReadySeconds must be between 0 and 86400"))]
    pub min_ready_seconds: Option<i32>,
    /// A namespace label key SREs choose (such as `baseplate.dev/canary` or `team/canary`):
    /// Apps in namespaces that have this label, whatever its value, move first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(
        concat!("self.matches('", crate::labels::key_pattern!(), "') && self.indexOf('/') <= 253"),
        "canaryNamespaceLabel must be a label key: an optional DNS prefix of at most 253 characters and '/', then at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit (e.g. canary or example.com/canary)"
    )))]
    #[schemars(length(max = 317))]
    pub canary_namespace_label: Option<String>,
}

impl RolloutPolicy {
    pub fn pause_after(&self) -> u32 {
        self.pause_after_failed_apps
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1)
            .max(1)
    }

    pub fn min_ready(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.min_ready_seconds
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
        )
    }

    /// The waves as shares in (0, 1]; a wave that does not parse (refused at admission) counts
    /// as 100%, so a bad value can only make a rollout faster to reach everyone, never stall it.
    pub fn shares(&self) -> Vec<f64> {
        self.waves
            .iter()
            .map(|w| {
                w.strip_suffix('%')
                    .and_then(|n| n.parse::<u32>().ok())
                    .filter(|n| (1..=100).contains(n))
                    .map_or(1.0, |n| f64::from(n) / 100.0)
            })
            .collect()
    }
}

/// Every knob an SRE can default. All optional: what is left out falls through to lower layers.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(validation = Rule::new("!has(self.minReadySeconds) || !has(self.progressDeadlineSeconds) || self.minReadySeconds < self.progressDeadlineSeconds")
    .message("minReadySeconds must be below progressDeadlineSeconds, or every rollout would be reported as failed before its pods count as ready; lower minReadySeconds or raise progressDeadlineSeconds")
    .field_path(".minReadySeconds"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformDefaults {
    /// Fixed replica count used when autoscaling is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 1000", "replicas must be between 0 and 1000"))]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Readiness probe for Apps that do not set one. Built-in: TCP on the first port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    /// Seconds every container sleeps in preStop so endpoints drain before SIGTERM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 600", "preStopSleepSeconds must be between 0 and 600"))]
    pub pre_stop_sleep_seconds: Option<i64>,
    /// Raised to at least preStopSleepSeconds + 20 whatever it is set to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 3600", "terminationGracePeriodSeconds must be between 0 and 3600"))]
    pub termination_grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateDefaults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 3600", "minReadySeconds must be between 0 and 3600"))]
    pub min_ready_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 30 && self <= 7200", "progressDeadlineSeconds must be between 30 and 7200"))]
    pub progress_deadline_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 100", "revisionHistoryLimit must be between 0 and 100"))]
    pub revision_history_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PdbDefaults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressDefaults>,
    /// Replaces the built-in restricted pod securityContext as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::security_context::pod_rules()))]
    pub pod_security_context: Option<PodSecurityContext>,
    /// Replaces the built-in restricted container securityContext as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::security_context::container_rules()))]
    pub container_security_context: Option<SecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread: Option<TopologySpreadDefaults>,
    /// Node labels the pods must run on (`kubernetes.io/arch: arm64`, a spot pool's label).
    /// An App's own value replaces this one as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::placement::node_selector_rules(), "maxProperties" = 64, "additionalProperties" = crate::placement::node_selector_values()))]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Taints the pods tolerate, in the pod's own shape. An App's own value replaces this one as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::placement::toleration_rules()))]
    #[schemars(length(max = 32))]
    pub tolerations: Option<Vec<Toleration>>,
    /// Node and pod (anti-)affinity, in the pod's own shape. An App's own value replaces this one as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// The PriorityClass of the pods. An App's own value replaces this one as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::names::SUBDOMAIN_RULE, "priorityClassName must name a PriorityClass: a DNS-1123 subdomain of lowercase letters, digits, '-' and '.', at most 253 characters, such as high-priority")))]
    #[schemars(length(max = 253))]
    pub priority_class_name: Option<String>,
    /// Secrets for pulling images from private registries, in every App's namespace. Layers
    /// add up (and the App's own), one entry per name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self.all(s, self.exists_one(t, t.name == s.name))", "imagePullSecrets names must be unique"))]
    #[schemars(length(max = 16))]
    pub image_pull_secrets: Option<Vec<ImagePullSecret>>,
    /// Extra labels on every child and pod. Layers add up; a higher layer wins on the same key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::all([
        crate::cel_rule::on_keys("!k.startsWith('app.kubernetes.io/') && !k.startsWith('baseplate.dev/')", "labels may not set app.kubernetes.io/* or baseplate.dev/* keys: Baseplate owns them"),
        crate::cel_rule::on_keys(crate::labels::KEY_PREDICATE, &format!("labels {}", crate::labels::KEYS_MESSAGE)),
    ])))]
    #[schemars(extend("maxProperties" = 64, "additionalProperties" = {"type": "string", "maxLength": 63, "pattern": crate::labels::VALUE_PATTERN}))]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on every child and pod. Layers add up; a higher layer wins on the same key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::all([
        crate::cel_rule::on_keys("!k.startsWith('baseplate.dev/')", "annotations may not set baseplate.dev/* keys: Baseplate owns them"),
        crate::cel_rule::on_keys(crate::labels::KEY_PREDICATE, &format!("annotations {}", crate::labels::KEYS_MESSAGE)),
    ])))]
    // The count bounds the rules' cost; the total size (256 KiB) is checked on resolution.
    #[schemars(extend("maxProperties" = 256))]
    pub annotations: BTreeMap<String, String>,
    /// Directory where `config.files` are mounted. Built-in `/etc/app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = (crate::mount_path::RULE, concat!("configMountPath ", crate::mount_path::message!())))]
    #[schemars(length(max = 1024))]
    pub config_mount_path: Option<String>,
    /// The migration Job of Apps with `migrate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<MigrateDefaults>,
    /// The CronJobs of Apps' `cronJobs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_jobs: Option<CronJobDefaults>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrateDefaults {
    /// The Job's `activeDeadlineSeconds`. Built-in 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 86400", "timeoutSeconds must be between 1 and 86400"))]
    pub timeout_seconds: Option<i64>,
    /// Retries after a failed pod. Built-in 0: a failed migration is reported, not run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 10", "backoffLimit must be between 0 and 10"))]
    pub backoff_limit: Option<i32>,
    /// Migration Jobs kept (with their pods, for the logs), the current version's included;
    /// older finished ones are deleted. Built-in 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 100", "historyLimit must be between 1 and 100"))]
    pub history_limit: Option<i32>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronJobDefaults {
    /// `Forbid` (built-in: a run is skipped while the previous one runs), `Allow` or `Replace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self in ['Allow', 'Forbid', 'Replace']", "concurrencyPolicy must be Allow, Forbid or Replace"))]
    pub concurrency_policy: Option<String>,
    /// A run that could not start within this many seconds of its time is skipped. Built-in 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 10 && self <= 86400", "startingDeadlineSeconds must be between 10 and 86400"))]
    pub starting_deadline_seconds: Option<i64>,
    /// Succeeded runs kept. Built-in 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 100", "successfulJobsHistoryLimit must be between 0 and 100"))]
    pub successful_jobs_history_limit: Option<i32>,
    /// Failed runs kept. Built-in 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 100", "failedJobsHistoryLimit must be between 0 and 100"))]
    pub failed_jobs_history_limit: Option<i32>,
    /// Retries after a failed pod within one run. Built-in 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 10", "backoffLimit must be between 0 and 10"))]
    pub backoff_limit: Option<i32>,
    /// A run's `activeDeadlineSeconds`. Built-in 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 86400", "timeoutSeconds must be between 1 and 86400"))]
    pub timeout_seconds: Option<i64>,
    /// Time zone of schedules that name none. Built-in `Etc/UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(&crate::schedule::TIME_ZONE_RULE, crate::schedule::TIME_ZONE_MESSAGE)))]
    #[schemars(length(max = 64))]
    pub time_zone: Option<String>,
}

macro_rules! rollout_message {
    () => {
        "must be a whole number of pods (0 or more) or a percentage from 0% to 100%, such as 1 or 25%"
    };
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(validation = Rule::new("!has(self.maxSurge) || !has(self.maxUnavailable) || !(string(self.maxSurge) in ['0', '0%'] && string(self.maxUnavailable) in ['0', '0%'])")
    .message("rollingUpdate.maxSurge and maxUnavailable cannot both be zero: the rollout could never make progress"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollingUpdateDefaults {
    /// Pods above the desired count during a rollout (number or percentage). Built-in 25%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = (crate::int_or_percent::FROM_ZERO_RULE, concat!("rollingUpdate.maxSurge ", rollout_message!())))]
    pub max_surge: Option<IntOrString>,
    /// Pods below the desired count during a rollout. Built-in 0: no capacity is lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = (crate::int_or_percent::FROM_ZERO_RULE, concat!("rollingUpdate.maxUnavailable ", rollout_message!())))]
    pub max_unavailable: Option<IntOrString>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PdbDefaults {
    /// Set to false to never create PodDisruptionBudgets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Built-in 1. A PDB is only made when the App's minimum replicas is at least 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = (
        crate::int_or_percent::FROM_ONE_RULE,
        "podDisruptionBudget.maxUnavailable must be a whole number of at least 1 or a percentage from 1% to 100%, such as 1 or 25%: 0 would block every node drain"
    ))]
    pub max_unavailable: Option<IntOrString>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressDefaults {
    /// Whether Apps with ports get an Ingress unless they say otherwise. Built-in true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// IngressClass name. Built-in: none (the cluster's default class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::names::SUBDOMAIN_RULE, "ingress.className must name an IngressClass: a DNS-1123 subdomain of lowercase letters, digits, '-' and '.', at most 253 characters, such as nginx")))]
    #[schemars(length(max = 253))]
    pub class_name: Option<String>,
    /// Host for Apps that do not set one; `{name}` and `{namespace}` are replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self.contains('{name}')", "hostTemplate must contain {name} so that every App gets its own host"))]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::names::HOST_TEMPLATE_RULE, crate::names::HOST_TEMPLATE_MESSAGE)))]
    #[schemars(length(max = 253))]
    pub host_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsDefaults>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsDefaults {
    /// Terminate TLS at the Ingress. Built-in false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// cert-manager ClusterIssuer named in the `cert-manager.io/cluster-issuer` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub cluster_issuer: Option<String>,
    /// Name of the TLS Secret; `{name}` is replaced. Built-in `{name}-tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::names::SECRET_TEMPLATE_RULE, crate::names::SECRET_TEMPLATE_MESSAGE)))]
    #[schemars(length(max = 253))]
    pub secret_name_template: Option<String>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopologySpreadDefaults {
    /// Built-in true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Built-in zone and hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = (
        concat!("self.all(k, k.matches('", crate::labels::key_pattern!(), "') && k.indexOf('/') <= 253 && self.exists_one(j, j == k))"),
        "topologyKeys must be node label keys, each listed once, such as topology.kubernetes.io/zone or kubernetes.io/hostname"
    ))]
    #[schemars(length(max = 8), inner(length(max = 317)))]
    pub topology_keys: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 100", "maxSkew must be between 1 and 100"))]
    pub max_skew: Option<i32>,
    /// `ScheduleAnyway` (built-in) or `DoNotSchedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self in ['ScheduleAnyway', 'DoNotSchedule']", "whenUnsatisfiable must be ScheduleAnyway or DoNotSchedule"))]
    pub when_unsatisfiable: Option<String>,
}

/// Guardrails. An App that crosses one is not applied; its running children stay as they are.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformLimits {
    /// Most replicas an App may run (fixed or autoscaling maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1", "maxReplicas must be at least 1"))]
    pub max_replicas: Option<i32>,
    /// Shortest preStop sleep an App may end up with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 600", "minPreStopSleepSeconds must be between 0 and 600"))]
    pub min_pre_stop_sleep_seconds: Option<i64>,
    /// Registries (and repository paths on them) Apps may take images from, e.g.
    /// `registry.example.com` or `docker.io/library`. An image is allowed when its registry host is
    /// an entry's host and its repository lies under the entry's path on a `/` boundary; short
    /// names count as Docker Hub's (`nginx` is `docker.io/library/nginx`). Empty: any registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("items" = {"type": "string", "maxLength": 255, "x-kubernetes-validations": crate::cel_rule::quoting_value(crate::image::ENTRY_RULE, crate::image::ENTRY_MESSAGE)}))]
    pub allowed_registries: Vec<String>,
    /// Apps must state their own CPU and memory requests instead of taking the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_resource_requests: Option<bool>,
    /// Largest CPU request or limit for any one container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::quantity::CPU_RULE, crate::quantity::CPU_MESSAGE)))]
    #[schemars(length(max = 32))]
    pub max_cpu: Option<String>,
    /// Largest memory request or limit for any one container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::quantity::memory_rules()))]
    #[schemars(length(max = 32))]
    pub max_memory: Option<String>,
}
