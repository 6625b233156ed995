//! The migration gate: the Job of the App's current version runs (once) before the workload
//! moves to that version, and old migration Jobs are pruned down to the Platform's history.
//!
//! A migration Job is created and never changed: its name carries its version, so the same name
//! always means the same migration, and a Job's pod template is immutable anyway. Deleting the
//! Job of the current version (after it failed, say) makes the next reconcile create it again:
//! that is how the same version is retried.

use std::sync::Arc;

use baseplate_crd::{App, ChildKind, ChildRef};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::report::Change;
use super::write::WriteOptions;
use super::{Report, owned_in_cache, sync_one};
use crate::controller::context::{Context, cached};
use crate::controller::error::Error;
use crate::controller::owner::owned_by;
use crate::controller::pod_health;

/// Where the migration of the current version stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    pub job: ChildRef,
    pub phase: Phase,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// An earlier version's Job still runs; this one starts when it has finished.
    WaitingForEarlier(ChildRef),
    /// Supplied secret values are missing, without which the pod could not start.
    WaitingForSecret,
    Running,
    Succeeded,
    /// The Job failed; the text says how, from the Job and its failed pod.
    Failed(String),
    /// The Job could not be created (its name is taken, or the API server refused it).
    Blocked,
}

impl Migration {
    /// The workload may move to the current version.
    pub fn passed(&self) -> bool {
        self.phase == Phase::Succeeded
    }
}

/// How a Job ended, if it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Running,
    Succeeded,
    Failed(String),
}

/// The Job's outcome from its terminal condition (`Complete` or `Failed`).
pub fn outcome(job: &Job) -> Outcome {
    let conditions = job
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten());
    for condition in conditions.filter(|c| c.status == "True") {
        match condition.type_.as_str() {
            "Complete" => return Outcome::Succeeded,
            "Failed" => {
                let reason = condition.reason.clone().unwrap_or_else(|| "Failed".into());
                let text = match condition.message.as_deref().filter(|m| !m.is_empty()) {
                    Some(message) => format!("{reason}: {message}"),
                    None => reason,
                };
                return Outcome::Failed(text);
            }
            _ => {}
        }
    }
    Outcome::Running
}

fn finished(job: &Job) -> bool {
    outcome(job) != Outcome::Running
}

/// Runs the migration of `desired` (the current version's Job) when it is due, and prunes
/// finished migration Jobs beyond `history_limit` (the current one counts; a running one is
/// never deleted). `supplied_secrets_present`: the pod could start. `previous`: what the
/// status last said, so a failure already explained is not looked into again.
pub async fn sync(
    ctx: &Context,
    app: &App,
    desired: Option<&Job>,
    history_limit: usize,
    supplied_secrets_present: bool,
    previous: Option<&baseplate_crd::status::MigrationStatus>,
    report: &mut Report,
) -> Result<Option<Migration>, Error> {
    let ours = owned_in_cache(&ctx.children.jobs, app);
    let migration = match desired {
        Some(job) => Some(
            current(
                ctx,
                app,
                job,
                &ours,
                supplied_secrets_present,
                previous,
                report,
            )
            .await?,
        ),
        None => None,
    };
    let current_name = migration.as_ref().map(|m| m.job.name.as_str());
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    for old in to_prune(&ours, current_name, history_limit) {
        let child = job_ref(app, &old.name_any());
        let change =
            super::prune::prune(ctx, app, &api, Some(old.metadata.clone()), &child).await?;
        report.record(child, change);
    }
    Ok(migration)
}

async fn current(
    ctx: &Context,
    app: &App,
    desired: &Job,
    ours: &[Arc<Job>],
    supplied_secrets_present: bool,
    previous: Option<&baseplate_crd::status::MigrationStatus>,
    report: &mut Report,
) -> Result<Migration, Error> {
    let job = job_ref(app, &desired.name_any());
    let phase = match cached(&ctx.children.jobs, &job) {
        Some(found) if !owned_by(&found.metadata, app) => {
            report.record(job.clone(), Change::Conflict);
            Phase::Blocked
        }
        Some(found) => {
            // The cache shows the Job: if it goes missing from now on, someone deleted it (to
            // run this version again), not the watch lagging behind the create.
            if let Some(last) = ctx.memory.lock().expect("lock").applied.get_mut(&job) {
                last.seen = true;
            }
            match outcome(&found) {
                Outcome::Running => Phase::Running,
                Outcome::Succeeded => Phase::Succeeded,
                Outcome::Failed(how) => {
                    let told = previous
                        .filter(|p| p.job == job.name && p.phase == "Failed")
                        .and_then(|p| p.message.clone());
                    Phase::Failed(match told {
                        Some(message) => message,
                        None => failure(ctx, &found, &job, &how).await?,
                    })
                }
            }
        }
        None => {
            let earlier = ours
                .iter()
                .filter(|j| j.name_any() != job.name && !finished(j))
                .min_by_key(|j| j.name_any());
            if let Some(earlier) = earlier {
                Phase::WaitingForEarlier(job_ref(app, &earlier.name_any()))
            } else if !supplied_secrets_present {
                Phase::WaitingForSecret
            } else {
                let synced = sync_one(ctx, app, Some(desired), WriteOptions::default()).await?;
                let phase = match &synced.change {
                    Change::Conflict | Change::Refused(_) => Phase::Blocked,
                    _ => Phase::Running,
                };
                report.record(synced.child, synced.change);
                phase
            }
        }
    };
    Ok(Migration { job, phase })
}

/// Why the Job failed: its own words and what its failed pod says (exit code, reason), read
/// from the Job's pods. Never the container's output: that may hold anything, secrets too.
async fn failure(ctx: &Context, job: &Job, child: &ChildRef, how: &str) -> Result<String, Error> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &child.namespace);
    // By the Job's UID, not its name: after a retry the old Job's pods may linger.
    let selector = format!(
        "batch.kubernetes.io/controller-uid={}",
        job.metadata.uid.as_deref().unwrap_or_default()
    );
    let found = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::Read {
            child: child.clone(),
            source,
        })?;
    let pod = failed_pod(&found.items)
        .or_else(|| pod_health::diagnose(&found.items, &(ctx.clock)()).map(|p| p.message()));
    Ok(match pod {
        Some(pod) => format!("{child} failed ({how}); {pod}"),
        None => format!("{child} failed ({how})"),
    })
}

/// The exit of the latest failed pod: `pod X: container migrate exited with code 1 (Error)`.
pub fn failed_pod(pods: &[Pod]) -> Option<String> {
    let mut failed: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed"))
        .collect();
    failed.sort_by_key(|p| (p.metadata.creation_timestamp.clone(), p.name_any()));
    let pod = failed.last()?;
    let status = pod.status.as_ref()?;
    let exited = status.container_statuses.iter().flatten().find_map(|c| {
        let terminated = c.state.as_ref()?.terminated.as_ref()?;
        (terminated.exit_code != 0).then(|| {
            let reason = terminated
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            format!(
                "container {} exited with code {}{reason}",
                c.name, terminated.exit_code
            )
        })
    });
    let what = exited.or_else(|| {
        status
            .reason
            .as_ref()
            .map(|r| format!("the pod failed: {r}"))
    })?;
    Some(format!("pod {}: {what}", pod.name_any()))
}

/// The finished migration Jobs to delete: all but the newest `limit` (the current one among
/// them), never the current one and never one that runs.
pub fn to_prune<'a>(ours: &'a [Arc<Job>], current: Option<&str>, limit: usize) -> Vec<&'a Job> {
    let mut old: Vec<&Job> = ours
        .iter()
        .map(Arc::as_ref)
        .filter(|j| Some(j.name_any().as_str()) != current && finished(j))
        .collect();
    // Newest first.
    old.sort_by(|a, b| {
        (&b.metadata.creation_timestamp, b.name_any())
            .cmp(&(&a.metadata.creation_timestamp, a.name_any()))
    });
    let keep = limit.saturating_sub(usize::from(current.is_some()));
    old.into_iter().skip(keep).collect()
}

fn job_ref(app: &App, name: &str) -> ChildRef {
    ChildRef {
        kind: ChildKind::Job,
        namespace: app.namespace().unwrap_or_default(),
        name: name.to_string(),
    }
}

/// The migration's line in the App's status.
pub fn status_of(migration: &Migration) -> baseplate_crd::status::MigrationStatus {
    let (phase, message) = match &migration.phase {
        Phase::WaitingForEarlier(earlier) => (
            "Waiting",
            Some(format!(
                "waiting for {earlier}, an earlier version's migration, to finish before this version's starts"
            )),
        ),
        Phase::WaitingForSecret => (
            "Waiting",
            Some("waiting for the supplied secret values the migration reads".to_string()),
        ),
        Phase::Running => (
            "Running",
            Some(
                "the migration of the new version runs; the workload keeps the previous version until it succeeds"
                    .to_string(),
            ),
        ),
        Phase::Succeeded => ("Succeeded", None),
        Phase::Failed(message) => ("Failed", Some(message.clone())),
        Phase::Blocked => (
            "Blocked",
            Some("the migration Job could not be created; see the Degraded condition".to_string()),
        ),
    };
    baseplate_crd::status::MigrationStatus {
        job: migration.job.name.clone(),
        phase: phase.into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn job(name: &str, created: i64, condition: Option<&str>) -> Arc<Job> {
        Arc::new(Job {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(jiff::Timestamp::from_second(created).unwrap())),
                ..Default::default()
            },
            spec: None,
            status: Some(JobStatus {
                conditions: condition.map(|type_| {
                    vec![JobCondition {
                        type_: type_.into(),
                        status: "True".into(),
                        reason: (type_ == "Failed").then(|| "BackoffLimitExceeded".into()),
                        message: (type_ == "Failed")
                            .then(|| "Job has reached the specified backoff limit".into()),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        })
    }

    fn names(jobs: Vec<&Job>) -> Vec<String> {
        jobs.into_iter().map(|j| j.name_any()).collect()
    }

    #[test]
    fn the_outcome_is_the_terminal_condition() {
        assert_eq!(outcome(&job("a", 1, None)), Outcome::Running);
        assert_eq!(outcome(&job("a", 1, Some("Complete"))), Outcome::Succeeded);
        assert_eq!(
            outcome(&job("a", 1, Some("Failed"))),
            Outcome::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
        // Interim conditions of 1.31+ do not end a Job.
        assert_eq!(
            outcome(&job("a", 1, Some("SuccessCriteriaMet"))),
            Outcome::Running
        );
    }

    #[test]
    fn pruning_keeps_the_newest_finished_jobs_the_current_one_and_every_running_one() {
        let ours = vec![
            job("v1", 1, Some("Complete")),
            job("v2", 2, Some("Failed")),
            job("v3", 3, None),
            job("v4", 4, Some("Complete")),
            job("v5", 5, Some("Complete")),
            job("v6", 6, None),
        ];
        // Limit 3: the current (v6) and the two newest finished others (v5, v4).
        assert_eq!(names(to_prune(&ours, Some("v6"), 3)), ["v2", "v1"]);
        // v3 runs: it is kept whatever the limit.
        assert_eq!(
            names(to_prune(&ours, Some("v6"), 1)),
            ["v5", "v4", "v2", "v1"]
        );
        // No migration any more: every finished Job goes, the running ones stay.
        assert_eq!(names(to_prune(&ours, None, 0)), ["v5", "v4", "v2", "v1"]);
        assert!(to_prune(&ours, Some("v6"), 10).is_empty());
    }

    #[test]
    fn the_failed_pod_says_how_its_container_exited() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api-migrate-x-abcde", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Failed", "containerStatuses": [{
                "name": "migrate", "image": "api:1", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "reason": "Error", "message": "password=hunter2"}}
            }]}
        }))
        .unwrap();
        let running: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "other"}, "status": {"phase": "Running"}
        }))
        .unwrap();
        let text = failed_pod(&[running.clone(), pod]).unwrap();
        assert_eq!(
            text,
            "pod api-migrate-x-abcde: container migrate exited with code 1 (Error)"
        );
        assert!(!text.contains("hunter2"), "no container output");
        assert_eq!(failed_pod(&[running]), None);
    }
}
