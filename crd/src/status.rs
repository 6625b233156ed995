//! What `kubectl get/describe/wait` shows for an App.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of an App, written only by the operator.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing` and `Degraded`, each with a reason and what to do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
    /// `ready/desired`, for the printer column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas_summary: Option<String>,
    /// Where the App is reachable when it has an Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The children Baseplate manages for this App, as `Kind/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
    /// The Platforms whose defaults and limits applied, lowest priority first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    /// The revision of each Platform with a `rollout` that the App renders from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platform_revisions: Vec<PlatformRevision>,
    /// The migration of the current version, when the App has `migrate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<MigrationStatus>,
    /// Each cron job's last runs, in the App's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cron_jobs: Vec<CronJobStatus>,
}

/// Which revision of a staged Platform an App follows, and since when.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlatformRevision {
    pub platform: String,
    /// The ControllerRevision, `<platform>-<hash>`.
    pub revision: String,
    /// When the App moved to it: `minReadySeconds` counts from here.
    pub since: Time,
}

/// Where the migration of the current version stands. The Deployment moves to this version
/// only once `phase` is `Succeeded`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MigrationStatus {
    /// The migration Job of the current version.
    pub job: String,
    /// `Waiting` (for an earlier version's Job to finish, or for supplied secret values),
    /// `Running`, `Succeeded`, `Failed`, or `Blocked` (the Job could not be created).
    pub phase: String,
    /// What is happening or went wrong, and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The last runs of one cron job, as its CronJob reports them.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CronJobStatus {
    /// The entry's name in `spec.cronJobs`.
    pub name: String,
    /// The CronJob, `<App name>-<name>`.
    pub cron_job: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Time>,
    /// The run scheduled last has finished without succeeding.
    pub last_run_failed: bool,
    /// Runs in progress.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub active: i32,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}
