//! The Platform side of staged rollouts: for each Platform with `spec.rollout`, keep its
//! revisions, read how its Apps are doing under the newest one (from the App cache: each App's
//! status names the revision it follows), step the waves, pause on failures, and report it all
//! in the Platform's status and events. The App reconciler reads that status to pick the
//! revision each App renders from ([`crate::controller::observe::platform`]).
//!
//! Everything it decides from is stored in the API server (ControllerRevisions, Platform and
//! App status), so a restarted or newly elected operator continues where the last one stopped.
//! The status is written when the revision, the wave, the phase or the failed Apps change, never
//! because one more App moved: the counts it shows are as of that write.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use baseplate_crd::platform::{FailedApp, PlatformStatus, RESUME_ANNOTATION};
use baseplate_crd::resolve::platform_matches;
use baseplate_crd::waves::{self, Phase, Progress, Tally};
use baseplate_crd::{App, Platform};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::warn;

use super::apply::FIELD_MANAGER;
use super::context::Context;
use super::revisions::{self, RevisionError};
use super::status;

/// Failed Apps listed in the status; the count covers them all.
const MAX_FAILED_LISTED: usize = 20;
/// How often Platforms are looked at with nothing waking the loop (a missed wake-up, a
/// `minReadySeconds` running out for an App no event concerns).
const RESYNC: Duration = Duration::from_secs(30);
/// Wake-ups within this time are handled together: a wave moves many Apps at once.
const DEBOUNCE: Duration = Duration::from_millis(500);

pub const ROLLED_OUT: &str = "RolledOut";

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error(transparent)]
    Revisions(#[from] RevisionError),
    #[error("writing the status of Platform {platform}: {source}")]
    Status {
        platform: String,
        #[source]
        source: kube::Error,
    },
}

/// The loop, until the controller stops: looks at every staged Platform whenever an App's
/// status or a Platform changed (`ctx.rollouts` is notified), and at least every [`RESYNC`].
pub async fn run(ctx: Arc<Context>) {
    loop {
        let next = reconcile_all(&ctx).await;
        tokio::select! {
            () = ctx.rollouts.notified() => {}
            () = tokio::time::sleep(next.unwrap_or(RESYNC).min(RESYNC)) => {}
        }
        tokio::time::sleep(DEBOUNCE).await;
    }
}

/// One pass over the Platforms; the soonest time one wants looking at again.
pub async fn reconcile_all(ctx: &Context) -> Option<Duration> {
    let mut next: Option<Duration> = None;
    for platform in ctx.platforms.state() {
        if platform.spec.rollout.is_none() || platform.meta().deletion_timestamp.is_some() {
            continue;
        }
        match reconcile_platform(ctx, &platform).await {
            Ok(Some(after)) => next = Some(next.map_or(after, |n| n.min(after))),
            Ok(None) => {}
            Err(error) => {
                warn!(platform = %platform.name_any(), %error, "rollout");
                next = Some(Duration::from_secs(5));
            }
        }
    }
    next
}

/// One selected App as the rollout reads it from its status.
struct Selected {
    namespace: String,
    name: String,
    canary: bool,
    follows: Option<(String, Time)>,
    degraded: Option<(String, String)>,
    ready_since: Option<Time>,
}

fn selected_apps(ctx: &Context, platform: &Platform) -> Vec<Selected> {
    let policy = platform.spec.rollout.as_ref();
    let namespaces: BTreeMap<String, BTreeMap<String, String>> = ctx
        .namespaces
        .state()
        .iter()
        .map(|ns| (ns.name_any(), ns.labels().clone()))
        .collect();
    let mut apps: Vec<Selected> = ctx
        .apps
        .state()
        .iter()
        .filter_map(|guard| guard.0.as_ref().ok().cloned())
        .filter_map(|app: App| {
            let namespace = app.namespace()?;
            let labels = namespaces.get(&namespace).cloned().unwrap_or_default();
            if !platform_matches(platform, &labels) {
                return None;
            }
            let status = app.status.clone().unwrap_or_default();
            let condition = |type_: &str| status.conditions.iter().find(|c| c.type_ == type_);
            Some(Selected {
                canary: policy
                    .and_then(|p| p.canary_namespace_label.as_ref())
                    .is_some_and(|key| labels.contains_key(key)),
                follows: status
                    .platform_revisions
                    .iter()
                    .find(|r| r.platform == platform.name_any())
                    .map(|r| (r.revision.clone(), r.since.clone())),
                degraded: condition(status::DEGRADED)
                    .filter(|c| c.status == "True")
                    .map(|c| (c.reason.clone(), c.message.clone())),
                ready_since: condition(status::READY)
                    .filter(|c| c.status == "True")
                    .map(|c| c.last_transition_time.clone()),
                name: app.name_any(),
                namespace,
            })
        })
        .collect();
    apps.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    apps
}

/// How an App is doing under `newest`, and how long until it counts as done.
fn progress_of(
    app: &Selected,
    newest: &str,
    min_ready: Duration,
    now: &Time,
) -> (Progress, Option<Duration>) {
    let Some((_, since)) = app.follows.as_ref().filter(|(r, _)| r == newest) else {
        return (Progress::Waiting, None);
    };
    if let Some((reason, message)) = &app.degraded {
        return (
            Progress::Failed {
                reason: reason.clone(),
                message: message.clone(),
            },
            None,
        );
    }
    let Some(ready) = &app.ready_since else {
        return (Progress::Moving, None);
    };
    let from = ready.0.max(since.0);
    let elapsed = now.0.duration_since(from).as_secs_f64().max(0.0);
    let needed = min_ready.as_secs_f64();
    if elapsed >= needed {
        (Progress::Done, None)
    } else {
        (
            Progress::Moving,
            Some(Duration::from_secs_f64(needed - elapsed)),
        )
    }
}

/// Looks at one staged Platform; the time until it wants looking at again, if it does.
pub async fn reconcile_platform(
    ctx: &Context,
    platform: &Platform,
) -> Result<Option<Duration>, RolloutError> {
    let Some(policy) = &platform.spec.rollout else {
        return Ok(None);
    };
    let name = platform.name_any();
    let now = (ctx.clock)();
    let apps = selected_apps(ctx, platform);
    let followed: BTreeSet<String> = apps
        .iter()
        .filter_map(|a| a.follows.as_ref().map(|(r, _)| r.clone()))
        .collect();
    let newest = revisions::sync(ctx, platform, &followed).await?;
    let previous = platform.status.clone().unwrap_or_default();
    let mut next = previous.clone();
    let last_wave = policy.waves.len().saturating_sub(1);
    let mut notes: Vec<(EventType, &str, String)> = Vec::new();

    if previous.revision.as_deref() != Some(newest.name.as_str()) {
        // The first revision has nothing staged to compare with: it applies at once.
        let first = previous.revision.is_none();
        next.revision = Some(newest.name.clone());
        next.wave = Some(if first { wave_number(last_wave) } else { 0 });
        next.phase = Some(Phase::Progressing.as_str().into());
        next.accepted_failures = 0;
        if !first {
            notes.push((
                EventType::Normal,
                "RolloutStarted",
                format!(
                    "revision {} ({}) rolls out in waves {}",
                    newest.revision,
                    newest.name,
                    policy.waves.join(", ")
                ),
            ));
        }
    }
    next.revision_number = Some(newest.revision);

    let shares = policy.shares();
    let min_ready = policy.min_ready();
    let mut recheck: Option<Duration> = None;
    let progresses: Vec<(Progress, &Selected)> = apps
        .iter()
        .map(|app| {
            let (progress, after) = progress_of(app, &newest.name, min_ready, &now);
            if let Some(after) = after {
                recheck = Some(recheck.map_or(after, |r: Duration| r.min(after)));
            }
            (progress, app)
        })
        .collect();
    let failed: Vec<FailedApp> = progresses
        .iter()
        .filter_map(|(progress, app)| match progress {
            Progress::Failed { reason, message } => Some(FailedApp {
                app: format!("{}/{}", app.namespace, app.name),
                reason: reason.clone(),
                message: message.clone(),
            }),
            _ => None,
        })
        .collect();
    let failed_count = u32::try_from(failed.len()).unwrap_or(u32::MAX);

    let resume = platform.annotations().get(RESUME_ANNOTATION);
    if let Some(value) = resume
        && previous.resumed.as_ref() != Some(value)
    {
        next.resumed = Some(value.clone());
        if previous.phase.as_deref() == Some(Phase::Paused.as_str()) {
            next.accepted_failures = i32::try_from(failed_count).unwrap_or(i32::MAX);
            notes.push((
                EventType::Normal,
                "RolloutResumed",
                format!(
                    "resumed by {RESUME_ANNOTATION}={value}, accepting {failed_count} failed Apps"
                ),
            ));
        }
    }

    // Step as far as the Apps allow: a wave with no App due is passed at once.
    let accepted = u32::try_from(next.accepted_failures).unwrap_or(0);
    let mut wave = usize::try_from(next.wave.unwrap_or(0)).unwrap_or(0);
    let phase = loop {
        let due: Vec<Tally> = progresses
            .iter()
            .map(|(progress, app)| Tally {
                due: waves::admitted(
                    &shares,
                    wave,
                    &newest.name,
                    &app.namespace,
                    &app.name,
                    app.canary,
                ),
                progress: progress.clone(),
            })
            .collect();
        let step = waves::step(policy, wave, &due, accepted);
        if step.wave == wave {
            break step.phase;
        }
        wave = step.wave;
        notes.push((
            EventType::Normal,
            "WaveStarted",
            format!(
                "wave {} of {} ({}) of revision {}",
                wave + 1,
                policy.waves.len(),
                policy.waves[wave],
                newest.name
            ),
        ));
    };
    if phase == Phase::Paused && previous.phase.as_deref() != Some(Phase::Paused.as_str()) {
        notes.push((
            EventType::Warning,
            "RolloutPaused",
            format!(
                "{failed_count} Apps failed under revision {} (pauseAfterFailedApps {}): {}; fix or revert the Platform, or resume with the {RESUME_ANNOTATION} annotation",
                newest.name,
                policy.pause_after(),
                failed.iter().take(5).map(|f| format!("{} ({})", f.app, f.reason)).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if phase == Phase::Complete && previous.phase.as_deref() != Some(Phase::Complete.as_str()) {
        notes.push((
            EventType::Normal,
            "RolledOut",
            format!("every App is at revision {}", newest.name),
        ));
    }
    next.wave = Some(wave_number(wave));
    next.phase = Some(phase.as_str().into());
    next.failed_app_count = i32::try_from(failed.len()).unwrap_or(i32::MAX);
    next.failed_apps = failed.into_iter().take(MAX_FAILED_LISTED).collect();
    next.observed_generation = platform.meta().generation;

    if material(&next) != material(&previous) {
        next.selected_apps = i32::try_from(apps.len()).unwrap_or(i32::MAX);
        next.apps_at_newest_revision = i32::try_from(
            apps.iter()
                .filter(|a| a.follows.as_ref().is_some_and(|(r, _)| *r == newest.name))
                .count(),
        )
        .unwrap_or(i32::MAX);
        next.conditions = vec![rolled_out(&previous.conditions, &next, phase, &now)];
        write_status(ctx, &name, &next).await?;
        for (type_, reason, note) in notes {
            publish(ctx, platform, type_, reason, note);
        }
    }
    Ok(match phase {
        Phase::Progressing => Some(recheck.unwrap_or(RESYNC)),
        Phase::Paused | Phase::Complete => None,
    })
}

fn wave_number(wave: usize) -> i32 {
    i32::try_from(wave).unwrap_or(i32::MAX)
}

/// What a status write is for: counts alone never cause one.
fn material(status: &PlatformStatus) -> impl PartialEq + '_ {
    (
        &status.observed_generation,
        &status.revision,
        &status.revision_number,
        &status.wave,
        &status.phase,
        &status.failed_apps,
        status.failed_app_count,
        status.accepted_failures,
        &status.resumed,
    )
}

fn rolled_out(
    previous: &[Condition],
    next: &PlatformStatus,
    phase: Phase,
    now: &Time,
) -> Condition {
    let revision = next.revision.clone().unwrap_or_default();
    let (done, message) = match phase {
        Phase::Complete => (
            true,
            format!("every selected App is at revision {revision}"),
        ),
        Phase::Paused => (
            false,
            format!(
                "paused: {} Apps failed under revision {revision}; see failedApps",
                next.failed_app_count
            ),
        ),
        Phase::Progressing => (
            false,
            format!(
                "revision {revision} is at wave {}",
                next.wave.unwrap_or(0) + 1
            ),
        ),
    };
    status::condition(
        previous,
        ROLLED_OUT,
        done,
        phase.as_str(),
        message,
        next.observed_generation,
        now,
    )
}

async fn write_status(
    ctx: &Context,
    name: &str,
    status: &PlatformStatus,
) -> Result<(), RolloutError> {
    let api: Api<Platform> = Api::all(ctx.client.clone());
    let patch = json!({
        "apiVersion": Platform::api_version(&()),
        "kind": Platform::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| RolloutError::Status {
        platform: name.to_string(),
        source,
    })?;
    Ok(())
}

fn publish(ctx: &Context, platform: &Platform, type_: EventType, reason: &str, note: String) {
    tracing::info!(platform = %platform.name_any(), reason, %note, "event");
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Rollout".into(),
        secondary: None,
    };
    ctx.events.publish(event, platform.object_ref(&()));
}
