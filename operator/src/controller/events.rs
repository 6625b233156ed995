//! What a reconcile tells people through events on the App: children created, updated,
//! drift-corrected and pruned, lasting problems once, and generated secret values (names
//! only: a secret value never reaches an event, a log line or the status).

use baseplate_crd::{App, ChildKind, ChildRef};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use tracing::info;

use super::apply::{Report, labels};
use super::context::Context;
use super::status::Observed;

/// The events for what a sync did. `generated`: secret keys given new values;
/// `status_changed`: this reconcile wrote a new status (lasting problems are told then).
pub fn publish_changes(
    app: &App,
    ctx: &Context,
    report: &Report,
    generated: &[String],
    status_changed: bool,
) {
    let namespace = app.namespace().unwrap_or_default();
    let had_secret = app.status.as_ref().is_some_and(|s| {
        s.children
            .iter()
            .any(|c| ChildRef::parse(&namespace, c).is_some_and(|c| c.kind == ChildKind::Secret))
    });
    let first_values = (!generated.is_empty() && !had_secret).then(|| {
        format!(
            "; generated values for secret keys {}",
            generated.join(", ")
        )
    });
    let mut told_values = false;
    let mut tell = |type_, reason, action, verb, items: Vec<String>| {
        // A lasting problem is told once, when the status first reports it, not every reconcile.
        let lasting = reason == "NameConflict" || reason == "ApplyFailed";
        if !items.is_empty() && (status_changed || !lasting) {
            let mut note = format!("{verb} {}", items.join(", "));
            // One event for a new App: its children and its first secret values together.
            if reason == "Created"
                && let Some(values) = &first_values
            {
                note.push_str(values);
                told_values = true;
            }
            publish(ctx, app, type_, reason, action, note);
        }
    };
    let created = labels(&report.created);
    tell(EventType::Normal, "Created", "Apply", "created", created);
    let updated = labels(&report.updated);
    tell(EventType::Normal, "Updated", "Apply", "updated", updated);
    for child in &report.drift_corrected {
        publish_about(
            ctx,
            app,
            Some(child_reference(child)),
            EventType::Warning,
            "DriftCorrected",
            "Apply",
            format!("restored fields Baseplate owns that were changed by hand on {child}"),
        );
    }
    let pruned = labels(&report.pruned);
    let pruned_verb = "deleted, no longer wanted by the App:";
    tell(EventType::Normal, "Pruned", "Prune", pruned_verb, pruned);
    let conflicts = labels(&report.conflicts);
    let conflict_verb = "left alone objects Baseplate does not own:";
    tell(
        EventType::Warning,
        "NameConflict",
        "Apply",
        conflict_verb,
        conflicts,
    );
    let refused = report.refusals();
    tell(
        EventType::Warning,
        "ApplyFailed",
        "Apply",
        "the API server refused",
        refused,
    );
    if generated.is_empty() || told_values {
        return;
    }
    let (type_, reason, note) = if had_secret {
        (
            EventType::Warning,
            "SecretRegenerated",
            format!(
                "the App's Secret lacked generated keys {}; new values were generated",
                generated.join(", ")
            ),
        )
    } else {
        (
            EventType::Normal,
            "SecretGenerated",
            format!("generated values for {}", generated.join(", ")),
        )
    };
    publish(ctx, app, type_, reason, "Generate", note);
}

/// The events for the migration and the cron jobs, told when the status first shows them
/// (`status_changed`): a migration that failed or succeeded, and each failed cron run, once.
/// A failed run is a warning but not a degradation: the App still serves.
pub fn publish_batch(app: &App, ctx: &Context, observed: &Observed, status_changed: bool) {
    let Some(rendered) = observed.rendered.as_ref().filter(|_| status_changed) else {
        return;
    };
    let previous = app.status.as_ref();
    let namespace = app.namespace().unwrap_or_default();
    if let Some(migration) = &rendered.migration {
        let before = previous
            .and_then(|s| s.migration.as_ref())
            .filter(|m| m.job == migration.job)
            .map(|m| m.phase.as_str());
        let job = ChildRef {
            kind: ChildKind::Job,
            namespace: namespace.clone(),
            name: migration.job.clone(),
        };
        match migration.phase.as_str() {
            "Failed" if before != Some("Failed") => publish_about(
                ctx,
                app,
                Some(child_reference(&job)),
                EventType::Warning,
                "MigrationFailed",
                "Migrate",
                migration.message.clone().unwrap_or_default(),
            ),
            "Succeeded" if before.is_some_and(|b| b != "Succeeded") => publish_about(
                ctx,
                app,
                Some(child_reference(&job)),
                EventType::Normal,
                "MigrationSucceeded",
                "Migrate",
                format!("{job} succeeded; the workload moves to the new version"),
            ),
            _ => {}
        }
    }
    for cron in rendered.cron_jobs.iter().filter(|c| c.last_run_failed) {
        let told = previous.iter().flat_map(|s| &s.cron_jobs).any(|c| {
            c.name == cron.name
                && c.last_run_failed
                && c.last_schedule_time == cron.last_schedule_time
        });
        let Some(scheduled) = cron.last_schedule_time.as_ref().filter(|_| !told) else {
            continue;
        };
        // The CronJob controller names a run after its scheduled time in minutes.
        let run = format!("{}-{}", cron.cron_job, scheduled.0.as_second() / 60);
        let child = ChildRef {
            kind: ChildKind::CronJob,
            namespace: namespace.clone(),
            name: cron.cron_job.clone(),
        };
        publish_about(
            ctx,
            app,
            Some(child_reference(&child)),
            EventType::Warning,
            "CronJobFailed",
            "Schedule",
            format!(
                "the run of {child} scheduled at {} failed; its logs: kubectl -n {namespace} logs job/{run}",
                scheduled.0
            ),
        );
    }
}

/// A reference to one of the App's children, for an event's related object.
fn child_reference(child: &ChildRef) -> ObjectReference {
    ObjectReference {
        api_version: Some(child.kind.api_version()),
        kind: Some(child.kind.kind().into()),
        name: Some(child.name.clone()),
        namespace: Some(child.namespace.clone()),
        ..Default::default()
    }
}

pub fn publish(
    ctx: &Context,
    app: &App,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    publish_about(ctx, app, None, type_, reason, action, note);
}

/// An event about the App that also names the child it concerns (`related`). The recorder
/// folds repeats of the same reason about the same objects into one event with a count and
/// the first note, so drift on two children at different times must name each child to be
/// seen.
fn publish_about(
    ctx: &Context,
    app: &App,
    related: Option<ObjectReference>,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    info!(reason, %note, "event");
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: related,
    };
    // An event is a courtesy: queued, and failing to publish it never fails the reconcile.
    ctx.events.publish(event, app.object_ref(&()));
}
