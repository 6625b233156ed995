//! The App's status: what is degraded, and the conditions computed from what a reconcile
//! observed. Computing is pure, so every transition is unit-tested; nothing
//! non-deterministic is written (times change only when a condition flips), so a status
//! write never re-triggers the controller in a loop.

use baseplate_crd::status::{CronJobStatus, MigrationStatus, PlatformRevision};
use baseplate_crd::{
    App, AppStatus, ChildKind, Children, RenderError, SecretState, Settings, names,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::apply::migration::{self, Migration, Phase};
use super::apply::{FIELD_MANAGER, Report, labels};
use super::context::Context;
use super::error::Error;
use super::owner::child_of;
use super::pod_health::PodProblem;

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";

/// Longest condition message written; the API allows 32 KiB, a person reads far less.
const MAX_MESSAGE: usize = 2048;

/// Why an App is degraded, most serious first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Degradation {
    InvalidSpec(String),
    PolicyViolation(String),
    NameConflict(String),
    ApplyFailed(String),
    MigrationFailed(String),
    WaitingForSecret(String),
    /// The new version's pods do not start: the reason is the pods' (`ImagePullFailed`,
    /// `CrashLooping`, ...), the message says what to change.
    NewPodsFailing {
        reason: &'static str,
        message: String,
    },
    ProgressDeadlineExceeded(String),
}

impl Degradation {
    pub fn reason(&self) -> &'static str {
        match self {
            Degradation::InvalidSpec(_) => "InvalidSpec",
            Degradation::PolicyViolation(_) => "PolicyViolation",
            Degradation::NameConflict(_) => "NameConflict",
            Degradation::ApplyFailed(_) => "ApplyFailed",
            Degradation::MigrationFailed(_) => "MigrationFailed",
            Degradation::WaitingForSecret(_) => "WaitingForSecret",
            Degradation::NewPodsFailing { reason, .. } => reason,
            Degradation::ProgressDeadlineExceeded(_) => "ProgressDeadlineExceeded",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Degradation::InvalidSpec(m)
            | Degradation::PolicyViolation(m)
            | Degradation::NameConflict(m)
            | Degradation::ApplyFailed(m)
            | Degradation::MigrationFailed(m)
            | Degradation::WaitingForSecret(m)
            | Degradation::NewPodsFailing { message: m, .. }
            | Degradation::ProgressDeadlineExceeded(m) => m,
        }
    }
}

/// Why an App cannot be rendered: its running children stay exactly as they are.
pub fn rejected(error: &RenderError) -> Degradation {
    let message = format!("{error}; the running children were left unchanged");
    match error {
        RenderError::PolicyViolation(_) => Degradation::PolicyViolation(message),
        _ => Degradation::InvalidSpec(message),
    }
}

/// A Secret of the App's name that the App does not own: nothing is applied.
pub fn foreign_secret(app: &App) -> Degradation {
    Degradation::NameConflict(format!(
        "{secret} already exists and is not owned by this App, so Baseplate applies nothing: the pods would read values it does not control. Baseplate creates the App's Secret itself; copy out any values you need, delete the Secret, and patch supplied values into the one Baseplate creates",
        secret = child_of(app, ChildKind::Secret)
    ))
}

/// What a sync left wrong: names held by others, children refused, supplied secret keys
/// still without a value.
fn degradations(app: &App, report: &Report, secrets: &SecretState) -> Vec<Degradation> {
    let mut degradations = Vec::new();
    if !report.conflicts.is_empty() {
        degradations.push(Degradation::NameConflict(format!(
            "{} already exist and are not owned by this App, so Baseplate leaves them alone; delete or rename them, or rename the App",
            labels(&report.conflicts).join(", ")
        )));
    }
    if !report.refused.is_empty() {
        degradations.push(Degradation::ApplyFailed(format!(
            "the API server refused {}",
            report.refusals().join("; ")
        )));
    }
    if let Some(Migration {
        job,
        phase: Phase::Failed(how),
    }) = &report.migration
    {
        degradations.push(Degradation::MigrationFailed(format!(
            "{how}. The previous version keeps running. Fix the cause and change the App (a new version runs a new migration), or run this version's again by deleting the Job: kubectl -n {} delete job {}",
            job.namespace, job.name
        )));
    }
    let missing = secrets.missing_supplied(&app.spec);
    if !missing.is_empty() {
        degradations.push(Degradation::WaitingForSecret(format!(
            "supplied secret keys {} have no value yet; pods cannot start until they do: kubectl -n {} patch secret {} --type merge -p '{{\"stringData\":{{\"{}\":\"...\"}}}}'",
            missing.join(", "),
            app.namespace().unwrap_or_default(),
            app.name_any(),
            missing[0]
        )));
    }
    degradations
}

/// The rollout state of the App's Deployment, as its controller reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rollout {
    pub desired: i32,
    /// Pods of every version, old ones included.
    pub total: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    /// The Deployment controller has seen the latest Deployment spec.
    pub observed: bool,
    pub deadline_exceeded: bool,
}

impl Rollout {
    pub fn from_deployment(deployment: &Deployment) -> Self {
        let generation = deployment.metadata.generation;
        let status = deployment.status.clone().unwrap_or_default();
        let deadline_exceeded = status.conditions.iter().flatten().any(|c| {
            c.type_ == "Progressing"
                && c.status == "False"
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        });
        Self {
            // A Deployment without spec.replicas (under an HPA, before it acts) runs one.
            desired: deployment
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1),
            total: status.replicas.unwrap_or(0),
            updated: status.updated_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            observed: generation.is_some() && status.observed_generation >= generation,
            deadline_exceeded,
        }
    }

    /// As `kubectl rollout status` has it: every replica runs the new version and is
    /// available, and no old pod is left (while old pods serve, `available` counts them).
    pub fn complete(&self) -> bool {
        self.observed
            && self.updated >= self.desired
            && self.total <= self.updated
            && self.available >= self.desired
            && self.ready >= self.desired
    }
}

/// Why the pods of the version being rolled out do not become available.
#[derive(Clone, Debug, PartialEq)]
pub struct Stalled {
    pub problem: PodProblem,
    /// Pods of the previous version still serving.
    pub old_serving: i32,
}

impl Stalled {
    fn degradation(&self, desired: i32) -> Degradation {
        let problem = self.problem.message();
        let message = if self.old_serving > 0 {
            format!(
                "{}/{desired} old pods serving; new version not starting: {problem}",
                self.old_serving
            )
        } else {
            problem
        };
        Degradation::NewPodsFailing {
            reason: self.problem.reason(),
            message,
        }
    }
}

/// Everything a reconcile learned that the status reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub generation: Option<i64>,
    pub degradations: Vec<Degradation>,
    /// `None` when the Deployment was not applied this time (invalid App): counts stay as they were.
    pub rollout: Option<Rollout>,
    /// What keeps the new version's pods from becoming available, while the rollout is not
    /// complete.
    pub stalled: Option<Stalled>,
    /// `None` when nothing was rendered: the previous URL, children and layers stay.
    pub rendered: Option<Rendered>,
    /// The revision of each staged Platform the App was rendered (or refused) under.
    pub platform_revisions: Vec<(String, String)>,
}

impl Observed {
    /// Nothing applied, for the reason `degradation` gives: counts, URL and children stay
    /// as they were reported.
    pub fn blocked(generation: Option<i64>, degradation: Degradation) -> Self {
        Self {
            generation,
            degradations: vec![degradation],
            rollout: None,
            stalled: None,
            rendered: None,
            platform_revisions: Vec::new(),
        }
    }
}

/// What the status reports after the children were synced.
pub fn after_sync(
    app: &App,
    settings: &Settings,
    children: &Children,
    report: &Report,
    secrets: &SecretState,
    stalled: Option<Stalled>,
) -> Observed {
    Observed {
        generation: app.meta().generation,
        degradations: degradations(app, report, secrets),
        rollout: report.deployment.as_ref().map(Rollout::from_deployment),
        stalled,
        rendered: Some(Rendered {
            url: settings.url(),
            children: children.names(),
            platforms: settings.platforms.clone(),
            migration: report.migration.as_ref().map(migration::status_of),
            cron_jobs: app
                .spec
                .cron_jobs
                .iter()
                .filter_map(|entry| {
                    let name = names::cron_job(&app.name_any(), &entry.name);
                    report
                        .cron_jobs
                        .iter()
                        .find(|c| c.metadata.name.as_deref() == Some(name.as_str()))
                        .map(|c| cron_job_status(&entry.name, c))
                })
                .collect(),
            batch_only: settings.batch_only,
        }),
        platform_revisions: Vec::new(),
    }
}

/// One cron job's last runs from its CronJob's status. The run scheduled last failed when it
/// is no longer active and no success came after its scheduled time (under the default
/// `concurrencyPolicy: Forbid` runs never overlap, so that success was this run's).
pub fn cron_job_status(entry: &str, cron_job: &CronJob) -> CronJobStatus {
    let status = cron_job.status.clone().unwrap_or_default();
    let active = status.active.as_ref().map_or(0, Vec::len);
    let last_run_failed = match (&status.last_schedule_time, &status.last_successful_time) {
        (None, _) => false,
        _ if active > 0 => false,
        (Some(scheduled), Some(succeeded)) => succeeded.0 < scheduled.0,
        (Some(_), None) => true,
    };
    CronJobStatus {
        name: entry.to_string(),
        cron_job: cron_job.metadata.name.clone().unwrap_or_default(),
        last_schedule_time: status.last_schedule_time,
        last_successful_time: status.last_successful_time,
        last_run_failed,
        active: i32::try_from(active).unwrap_or(i32::MAX),
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    pub url: Option<String>,
    pub children: Vec<String>,
    pub platforms: Vec<String>,
    pub migration: Option<MigrationStatus>,
    pub cron_jobs: Vec<CronJobStatus>,
    /// No Deployment: Ready does not wait for a rollout.
    pub batch_only: bool,
}

/// The new status from the previous one and what was observed, at `now`.
pub fn compute(previous: Option<&AppStatus>, observed: &Observed, now: Time) -> AppStatus {
    let previous = previous.cloned().unwrap_or_default();
    let mut degradations = observed.degradations.clone();
    if let (Some(rollout), Some(stalled)) = (&observed.rollout, &observed.stalled)
        && !rollout.complete()
    {
        degradations.push(stalled.degradation(rollout.desired));
    }
    if let Some(rollout) = &observed.rollout
        && rollout.deadline_exceeded
    {
        degradations.push(Degradation::ProgressDeadlineExceeded(
            "the Deployment made no progress within progressDeadlineSeconds; check `kubectl describe deployment` and the pods' events (image pull, crash, unschedulable, failing readiness probe)".into(),
        ));
    }
    degradations.sort();
    degradations.dedup();
    let worst = degradations.first();
    let rollout_complete = observed.rollout.as_ref().is_some_and(Rollout::complete);
    let rollout_underway = observed
        .rollout
        .as_ref()
        .is_some_and(|r| !r.complete() && !r.deadline_exceeded);

    let rendered = observed.rendered.as_ref();
    // The current version's migration has not succeeded (nor failed, which is a degradation).
    let migrating = rendered
        .and_then(|r| r.migration.as_ref())
        .filter(|m| m.phase != "Succeeded" && m.phase != "Failed");
    let batch_only = rendered.is_some_and(|r| r.batch_only);
    let ready = match worst {
        Some(d) => (false, d.reason(), d.message().to_string()),
        None if migrating.is_some() => (
            false,
            "MigrationInProgress",
            migrating
                .and_then(|m| m.message.clone())
                .unwrap_or_default(),
        ),
        None if batch_only => (
            true,
            "Scheduled",
            "all children are applied; the App is batch-only and its CronJobs run on their schedules".into(),
        ),
        None if rollout_complete => (true, "Available", "all children are applied and every replica is updated and available".into()),
        None => (
            false,
            "RolloutInProgress",
            observed.rollout.as_ref().map_or_else(
                || "waiting for the Deployment".to_string(),
                |r| format!("{} of {} replicas updated, {} available; waiting for the rollout to finish", r.updated, r.desired, r.available),
            ),
        ),
    };
    let progressing = if let Some(migration) = migrating {
        (
            true,
            "Migrating",
            format!("{} is {}", migration.job, migration.phase.to_lowercase()),
        )
    } else if rollout_underway {
        (
            true,
            "RollingOut",
            "a new version of the pods is rolling out".to_string(),
        )
    } else if observed
        .rollout
        .as_ref()
        .is_some_and(|r| r.deadline_exceeded)
    {
        (
            false,
            "ProgressDeadlineExceeded",
            "the rollout stopped making progress".to_string(),
        )
    } else if rollout_complete {
        (
            false,
            "Complete",
            "the latest version is rolled out".to_string(),
        )
    } else {
        (
            false,
            worst.map_or("Idle", Degradation::reason),
            "no rollout is underway".to_string(),
        )
    };
    let degraded = match worst {
        Some(_) => {
            let message = degradations
                .iter()
                .map(|d| format!("{}: {}", d.reason(), d.message()))
                .collect::<Vec<_>>()
                .join("; ");
            (true, worst.map_or("", Degradation::reason), message)
        }
        None => (false, "AsExpected", "no problems".to_string()),
    };

    let conditions = [
        (READY, ready),
        (PROGRESSING, progressing),
        (DEGRADED, degraded),
    ]
    .into_iter()
    .map(|(type_, (status, reason, message))| {
        condition(
            &previous.conditions,
            type_,
            status,
            reason,
            message,
            observed.generation,
            &now,
        )
    })
    .collect();

    let rendered = observed.rendered.clone();
    let (replicas, ready_replicas, updated_replicas) = match &observed.rollout {
        Some(r) => (Some(r.desired), Some(r.ready), Some(r.updated)),
        None => (
            previous.replicas,
            previous.ready_replicas,
            previous.updated_replicas,
        ),
    };
    AppStatus {
        observed_generation: observed.generation,
        conditions,
        replicas,
        ready_replicas,
        updated_replicas,
        replicas_summary: replicas.map(|d| format!("{}/{d}", ready_replicas.unwrap_or(0))),
        url: rendered.as_ref().map_or(previous.url, |r| r.url.clone()),
        children: rendered
            .as_ref()
            .map_or(previous.children, |r| r.children.clone()),
        migration: rendered
            .as_ref()
            .map_or(previous.migration, |r| r.migration.clone()),
        cron_jobs: rendered
            .as_ref()
            .map_or(previous.cron_jobs, |r| r.cron_jobs.clone()),
        platforms: rendered.map_or(previous.platforms, |r| r.platforms),
        platform_revisions: platform_revisions(&previous.platform_revisions, observed, &now),
    }
}

/// The revisions the App follows; the time it moved to each is kept while it stays there.
fn platform_revisions(
    previous: &[PlatformRevision],
    observed: &Observed,
    now: &Time,
) -> Vec<PlatformRevision> {
    observed
        .platform_revisions
        .iter()
        .map(|(platform, revision)| PlatformRevision {
            platform: platform.clone(),
            revision: revision.clone(),
            since: previous
                .iter()
                .find(|p| p.platform == *platform && p.revision == *revision)
                .map_or_else(|| now.clone(), |p| p.since.clone()),
        })
        .collect()
}

/// The cause of the new pods' failure that `observed` reports and `previous` did not: it is
/// told once in an event, however often the pods retry.
pub fn new_cause<'a>(previous: Option<&AppStatus>, observed: &'a Observed) -> Option<&'a Stalled> {
    let stalled = observed.stalled.as_ref()?;
    if observed.rollout.as_ref().is_none_or(Rollout::complete) {
        return None;
    }
    let told = stalled.problem.message();
    let reported = previous
        .into_iter()
        .flat_map(|s| &s.conditions)
        .any(|c| c.type_ == DEGRADED && c.status == "True" && c.message.contains(&told));
    (!reported).then_some(stalled)
}

/// Writes the status computed from `observed` if it changed; returns whether it did.
/// What a status write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The status already said this.
    Unchanged,
    Written,
    /// The App was deleted meanwhile (404): there is nothing to write to, nor to retry.
    AppGone,
}

impl Written {
    pub fn changed(self) -> bool {
        self == Written::Written
    }
}

pub async fn write(app: &App, ctx: &Context, observed: &Observed) -> Result<Written, Error> {
    let status = compute(app.status.as_ref(), observed, (ctx.clock)());
    if app.status.as_ref() == Some(&status) {
        return Ok(Written::Unchanged);
    }
    let api: Api<App> = Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": App::api_version(&()),
        "kind": App::kind(&()),
        "status": status,
    });
    match api
        .patch_status(
            &app.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
    {
        Ok(_) => Ok(Written::Written),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Written::AppGone),
        Err(source) => Err(Error::Status {
            app: ObjectRef::from_obj(app),
            source,
        }),
    }
}

/// A condition at `now`, keeping the transition time of the same status in `previous`.
pub fn condition(
    previous: &[Condition],
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message: truncate(message),
        observed_generation: generation,
        last_transition_time,
    }
}

fn truncate(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE - 3;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("...");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(seconds).unwrap())
    }

    fn rollout(desired: i32, available: i32) -> Rollout {
        Rollout {
            desired,
            total: desired,
            updated: desired,
            ready: available,
            available,
            observed: true,
            deadline_exceeded: false,
        }
    }

    fn get<'a>(status: &'a AppStatus, type_: &str) -> &'a Condition {
        status.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    fn observed(rollout: Option<Rollout>, degradations: Vec<Degradation>) -> Observed {
        Observed {
            generation: Some(3),
            degradations,
            rollout,
            stalled: None,
            rendered: Some(Rendered {
                url: Some("http://a.example/".into()),
                children: vec!["Deployment/a".into()],
                platforms: vec![],
                ..Default::default()
            }),
            platform_revisions: vec![],
        }
    }

    fn migrating(phase: &str) -> Observed {
        let mut observed = observed(Some(rollout(2, 2)), vec![]);
        observed.rendered.as_mut().unwrap().migration = Some(MigrationStatus {
            job: "a-migrate-0123456789".into(),
            phase: phase.into(),
            message: Some("the migration of the new version runs".into()),
        });
        observed
    }

    #[test]
    fn a_running_migration_holds_ready_even_while_the_old_version_serves() {
        let status = compute(None, &migrating("Running"), at(10));
        assert_eq!(get(&status, READY).status, "False");
        assert_eq!(get(&status, READY).reason, "MigrationInProgress");
        assert_eq!(get(&status, PROGRESSING).status, "True");
        assert_eq!(get(&status, PROGRESSING).reason, "Migrating");
        assert_eq!(get(&status, DEGRADED).status, "False");
        assert_eq!(status.migration.as_ref().unwrap().phase, "Running");
        // Once it succeeded, the rollout decides.
        let done = compute(Some(&status), &migrating("Succeeded"), at(20));
        assert_eq!(get(&done, READY).reason, "Available");
        assert_eq!(get(&done, PROGRESSING).reason, "Complete");
    }

    #[test]
    fn a_failed_migration_is_degraded_with_its_message() {
        let mut observed = migrating("Failed");
        observed.degradations = vec![Degradation::MigrationFailed(
            "Job/a-migrate-0123456789 failed (BackoffLimitExceeded); pod p: container migrate exited with code 1 (Error)".into(),
        )];
        let status = compute(None, &observed, at(10));
        assert_eq!(get(&status, READY).reason, "MigrationFailed");
        assert_eq!(get(&status, DEGRADED).reason, "MigrationFailed");
        assert!(
            get(&status, DEGRADED)
                .message
                .contains("exited with code 1")
        );
        assert_eq!(get(&status, PROGRESSING).status, "False");
    }

    #[test]
    fn a_batch_only_app_is_ready_without_a_rollout_and_a_failed_run_keeps_it_ready() {
        let mut observed = observed(None, vec![]);
        let rendered = observed.rendered.as_mut().unwrap();
        rendered.batch_only = true;
        rendered.cron_jobs = vec![CronJobStatus {
            name: "report".into(),
            cron_job: "a-report".into(),
            last_schedule_time: Some(at(100)),
            last_successful_time: Some(at(50)),
            last_run_failed: true,
            active: 0,
        }];
        let status = compute(None, &observed, at(200));
        assert_eq!(get(&status, READY).status, "True");
        assert_eq!(get(&status, READY).reason, "Scheduled");
        assert_eq!(get(&status, DEGRADED).status, "False");
        assert!(status.cron_jobs[0].last_run_failed);
        assert_eq!(status.replicas_summary, None, "no Deployment, no replicas");
    }

    #[test]
    fn the_last_run_failed_when_it_ended_without_a_success_after_its_time() {
        let cron = |scheduled: Option<i64>, succeeded: Option<i64>, active: usize| {
            let value = serde_json::json!({
                "metadata": {"name": "a-report"},
                "spec": {"schedule": "0 3 * * *", "jobTemplate": {}},
                "status": {
                    "lastScheduleTime": scheduled.map(at),
                    "lastSuccessfulTime": succeeded.map(at),
                    "active": (0..active).map(|i| serde_json::json!({"name": format!("run-{i}")})).collect::<Vec<_>>(),
                },
            });
            cron_job_status("report", &serde_json::from_value(value).unwrap())
        };
        assert!(!cron(None, None, 0).last_run_failed, "never ran");
        assert!(
            !cron(Some(100), None, 1).last_run_failed,
            "first run running"
        );
        assert!(cron(Some(100), None, 0).last_run_failed, "first run failed");
        assert!(!cron(Some(100), Some(130), 0).last_run_failed, "succeeded");
        assert!(
            cron(Some(200), Some(130), 0).last_run_failed,
            "the next run failed"
        );
        assert!(
            !cron(Some(200), Some(130), 1).last_run_failed,
            "the next run runs"
        );
        let status = cron(Some(200), Some(130), 1);
        assert_eq!((status.cron_job.as_str(), status.active), ("a-report", 1));
    }

    #[test]
    fn ready_when_the_rollout_is_complete() {
        let status = compute(None, &observed(Some(rollout(2, 2)), vec![]), at(10));
        assert_eq!(get(&status, READY).status, "True");
        assert_eq!(get(&status, READY).reason, "Available");
        assert_eq!(get(&status, PROGRESSING).status, "False");
        assert_eq!(get(&status, DEGRADED).status, "False");
        assert_eq!(status.observed_generation, Some(3));
        assert!(
            status
                .conditions
                .iter()
                .all(|c| c.observed_generation == Some(3))
        );
        assert_eq!(status.replicas_summary.as_deref(), Some("2/2"));
        assert_eq!(status.url.as_deref(), Some("http://a.example/"));
    }

    #[test]
    fn progressing_while_pods_are_not_available() {
        let status = compute(None, &observed(Some(rollout(2, 0)), vec![]), at(10));
        assert_eq!(get(&status, READY).status, "False");
        assert_eq!(get(&status, READY).reason, "RolloutInProgress");
        assert_eq!(get(&status, PROGRESSING).status, "True");
        assert_eq!(get(&status, DEGRADED).status, "False");
    }

    #[test]
    fn old_pods_still_available_do_not_make_the_rollout_complete() {
        // Both new pods exist but are not available; the two old ones are.
        let mut surging = rollout(2, 2);
        surging.total = 4;
        let status = compute(None, &observed(Some(surging.clone()), vec![]), at(10));
        assert_eq!(get(&status, READY).reason, "RolloutInProgress");
        surging.total = 2;
        let status = compute(None, &observed(Some(surging), vec![]), at(10));
        assert_eq!(get(&status, READY).status, "True");
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let first = compute(None, &observed(Some(rollout(2, 0)), vec![]), at(10));
        let same = compute(Some(&first), &observed(Some(rollout(2, 1)), vec![]), at(20));
        assert_eq!(get(&same, READY).last_transition_time, at(10));
        let flipped = compute(Some(&same), &observed(Some(rollout(2, 2)), vec![]), at(30));
        assert_eq!(get(&flipped, READY).last_transition_time, at(30));
        assert_eq!(get(&flipped, DEGRADED).last_transition_time, at(10));
        // Recomputing from unchanged observations is byte-for-byte the same status.
        assert_eq!(
            compute(
                Some(&flipped),
                &observed(Some(rollout(2, 2)), vec![]),
                at(40)
            ),
            flipped
        );
    }

    #[test]
    fn the_most_serious_degradation_names_the_reason() {
        let status = compute(
            None,
            &observed(
                Some(rollout(2, 2)),
                vec![
                    Degradation::WaitingForSecret("set API_KEY".into()),
                    Degradation::NameConflict("Service/a is not ours".into()),
                ],
            ),
            at(10),
        );
        assert_eq!(get(&status, DEGRADED).status, "True");
        assert_eq!(get(&status, DEGRADED).reason, "NameConflict");
        assert!(
            get(&status, DEGRADED)
                .message
                .contains("WaitingForSecret: set API_KEY")
        );
        assert_eq!(get(&status, READY).status, "False");
        assert_eq!(get(&status, READY).reason, "NameConflict");
    }

    #[test]
    fn the_time_an_app_moved_to_a_revision_is_kept_while_it_stays() {
        let at_old = Observed {
            platform_revisions: vec![("p".into(), "p-old".into())],
            ..observed(Some(rollout(3, 3)), vec![])
        };
        let first = compute(None, &at_old, at(10));
        let again = compute(Some(&first), &at_old, at(20));
        assert_eq!(again.platform_revisions[0].since, at(10));
        let moved = Observed {
            platform_revisions: vec![("p".into(), "p-new".into())],
            ..at_old.clone()
        };
        let after = compute(Some(&again), &moved, at(30));
        assert_eq!(after.platform_revisions[0].revision, "p-new");
        assert_eq!(after.platform_revisions[0].since, at(30));
    }

    #[test]
    fn an_invalid_app_keeps_what_was_reported_before() {
        let good = compute(None, &observed(Some(rollout(3, 3)), vec![]), at(10));
        let invalid = Observed {
            generation: Some(4),
            degradations: vec![Degradation::InvalidSpec("spec.replicas: too many".into())],
            rollout: None,
            stalled: None,
            rendered: None,
            platform_revisions: vec![],
        };
        let status = compute(Some(&good), &invalid, at(20));
        assert_eq!(get(&status, READY).reason, "InvalidSpec");
        assert_eq!(
            get(&status, DEGRADED).message,
            "InvalidSpec: spec.replicas: too many"
        );
        assert_eq!(status.replicas, Some(3));
        assert_eq!(status.url, good.url);
        assert_eq!(status.children, good.children);
        assert_eq!(status.observed_generation, Some(4));
    }

    #[test]
    fn a_stalled_rollout_is_degraded() {
        let mut stalled = rollout(2, 0);
        stalled.deadline_exceeded = true;
        let status = compute(None, &observed(Some(stalled), vec![]), at(10));
        assert_eq!(get(&status, DEGRADED).reason, "ProgressDeadlineExceeded");
        assert_eq!(get(&status, PROGRESSING).status, "False");
        assert_eq!(get(&status, PROGRESSING).reason, "ProgressDeadlineExceeded");
    }

    #[test]
    fn long_messages_are_cut() {
        let status = compute(
            None,
            &observed(None, vec![Degradation::ApplyFailed("é".repeat(5000))]),
            at(1),
        );
        assert!(get(&status, DEGRADED).message.len() <= MAX_MESSAGE);
    }

    fn pulling(old_serving: i32) -> Stalled {
        Stalled {
            problem: PodProblem::ImagePullFailed {
                container: "app".into(),
                image: "registry.example.com/shop/api:1.4.3".into(),
                detail: Some("not found".into()),
            },
            old_serving,
        }
    }

    fn stalled(rollout: Rollout, stalled: Stalled) -> Observed {
        Observed {
            stalled: Some(stalled),
            ..observed(Some(rollout), vec![])
        }
    }

    #[test]
    fn new_pods_that_do_not_start_are_the_reason_and_old_pods_serving_are_said() {
        let mut rolling = rollout(2, 2);
        rolling.updated = 1;
        let status = compute(None, &stalled(rolling.clone(), pulling(2)), at(10));
        let ready = get(&status, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "ImagePullFailed")
        );
        assert!(
            ready.message.starts_with("2/2 old pods serving; new version not starting: container app cannot pull image registry.example.com/shop/api:1.4.3"),
            "{}",
            ready.message
        );
        assert_eq!(get(&status, DEGRADED).reason, "ImagePullFailed");
        assert_eq!(
            get(&status, PROGRESSING).status,
            "True",
            "the rollout still runs"
        );
        // A new App has no old pods: the cause alone.
        let status = compute(None, &stalled(rollout(2, 0), pulling(0)), at(10));
        assert!(
            get(&status, READY).message.starts_with("container app"),
            "{}",
            get(&status, READY).message
        );
    }

    #[test]
    fn the_pods_cause_is_told_before_the_deadline_and_clears_with_its_cause() {
        let mut expired = rollout(2, 0);
        expired.deadline_exceeded = true;
        let status = compute(None, &stalled(expired.clone(), pulling(0)), at(10));
        let degraded = get(&status, DEGRADED);
        assert_eq!(degraded.reason, "ImagePullFailed");
        assert!(
            degraded.message.contains("ProgressDeadlineExceeded: "),
            "{}",
            degraded.message
        );
        // The pods start: the rollout completes and nothing of the cause is left.
        let cleared = compute(Some(&status), &stalled(rollout(2, 2), pulling(0)), at(20));
        assert_eq!(get(&cleared, READY).status, "True");
        assert_eq!(get(&cleared, DEGRADED).status, "False");
        let fixed = compute(
            Some(&status),
            &observed(Some(rollout(2, 0)), vec![]),
            at(20),
        );
        assert_eq!(get(&fixed, READY).reason, "RolloutInProgress");
    }

    #[test]
    fn a_cause_is_new_once() {
        let first = stalled(rollout(2, 0), pulling(0));
        assert!(new_cause(None, &first).is_some());
        let reported = compute(None, &first, at(10));
        assert!(new_cause(Some(&reported), &first).is_none());
        // Old pods counted differently is the same cause.
        assert!(new_cause(Some(&reported), &stalled(rollout(2, 0), pulling(1))).is_none());
        let crashing = Stalled {
            problem: PodProblem::CrashLooping {
                container: "app".into(),
                exit_code: 3,
                signal: None,
                detail: None,
            },
            old_serving: 0,
        };
        assert!(new_cause(Some(&reported), &stalled(rollout(2, 0), crashing)).is_some());
        // A complete rollout reports no cause at all.
        assert!(new_cause(None, &stalled(rollout(2, 2), pulling(0))).is_none());
    }
}
