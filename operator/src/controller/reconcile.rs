//! One reconcile: read what the App refers to → resolve and check → build (pure) → apply and
//! prune → write status → tell people through events.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use baseplate_crd::{
    App, AppStatus, EffectivePlatform, RenderError, SecretState, policy, render, resolve,
};
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use kube::api::{Api, Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;
use tokio::time::Instant;
use tracing::{info, warn};

use super::children::{self, MANAGER, Report};
use super::context::{Context, RememberedSecret};
use super::error::Error;
use super::status::{self, Degradation, Observed, Rendered, Rollout};

/// Longest backoff after repeated transient failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[tracing::instrument(skip_all, fields(app = %guard.name_any(), namespace = guard.namespace().unwrap_or_default()))]
pub async fn reconcile(
    guard: Arc<DeserializeGuard<App>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = match &guard.0 {
        Ok(app) => reconcile_app(app, &ctx).await,
        Err(invalid) => {
            // The stored object does not match the API types (an older or hand-edited schema);
            // it must not stall the other Apps.
            warn!(error = %invalid, "App cannot be read; fix or re-apply it");
            Ok(Outcome::Invalid)
        }
    };
    ctx.metrics.observe_reconcile(started.elapsed(), &result);
    match result {
        Ok(outcome) => {
            ctx.failures
                .lock()
                .expect("lock")
                .remove(&ObjectRef::from_obj(guard.as_ref()));
            Ok(match outcome {
                // Nothing to retry: the next change to the App or a Platform triggers a reconcile.
                Outcome::Invalid => Action::await_change(),
                Outcome::Conflict => Action::requeue(CONFLICT_RECHECK),
                // The watch normally triggers the next reconcile well before this.
                Outcome::AwaitingCache => Action::requeue(children::CACHE_LAG_ALLOWANCE),
                Outcome::Synced => Action::requeue(jittered(ctx.settings.resync, guard.as_ref())),
            })
        }
        Err(error) => {
            if let Ok(app) = &guard.0 {
                let note = format!("{error}; retrying with backoff");
                publish(
                    &ctx,
                    app,
                    EventType::Warning,
                    "ReconcileFailed",
                    "Reconcile",
                    note,
                );
            }
            Err(error)
        }
    }
}

/// Transient errors back off exponentially per App: 1 s, 2 s, 4 s ... up to 5 minutes.
pub fn error_policy(guard: Arc<DeserializeGuard<App>>, error: &Error, ctx: Arc<Context>) -> Action {
    let mut failures = ctx.failures.lock().expect("lock");
    let count = failures
        .entry(ObjectRef::from_obj(guard.as_ref()))
        .or_insert(0);
    *count = count.saturating_add(1);
    let delay = backoff(*count);
    warn!(app = %guard.name_any(), namespace = guard.namespace().unwrap_or_default(), error = %error, category = error.category(), retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

pub fn backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF)
}

/// Spreads resyncs of many Apps over time instead of all at once.
fn jittered(resync: Duration, guard: &DeserializeGuard<App>) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    guard.meta().uid.hash(&mut hasher);
    let tenth = resync.as_millis() as u64 / 10;
    resync
        + Duration::from_millis(if tenth == 0 {
            0
        } else {
            hasher.finish() % tenth
        })
}

/// Wait between checks while an object Baseplate does not own holds a child's name: its
/// deletion is not watched (it carries none of Baseplate's labels).
const CONFLICT_RECHECK: Duration = Duration::from_secs(30);

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Synced,
    /// Applied what could be, but a foreign object holds a child's name.
    Conflict,
    /// Children applied moments ago are not in the cache yet.
    AwaitingCache,
    Invalid,
}

async fn reconcile_app(app: &App, ctx: &Context) -> Result<Outcome, Error> {
    if app.meta().deletion_timestamp.is_some() {
        // Garbage collection removes the children through their owner references.
        return Ok(Outcome::Invalid);
    }
    let namespace = app.namespace().unwrap_or_default();
    let namespace_labels: BTreeMap<String, String> = ctx
        .namespaces
        .get(&ObjectRef::new(&namespace))
        .map(|ns| ns.labels().clone())
        .unwrap_or_default();
    let platforms = ctx.platforms.state();
    let platform = EffectivePlatform::select(platforms.iter().map(Arc::as_ref), &namespace_labels);

    let settings = match resolve::resolve(app, &platform).and_then(|settings| {
        let violations = policy::check(&app.spec, &settings, &platform);
        if violations.is_empty() {
            Ok(settings)
        } else {
            Err(RenderError::PolicyViolation(violations))
        }
    }) {
        Ok(settings) => settings,
        Err(error) => return reject(app, ctx, error).await,
    };

    // The Secret is presumed absent while the cache shows none; if the create finds one
    // after all, it is read and everything rendered again, once.
    let mut read_secret_first = false;
    let (secrets, generated, children, mut report) = loop {
        let Some((secrets, generated)) = secret_state(app, ctx, read_secret_first).await? else {
            let conflict = Degradation::NameConflict(format!(
                "Secret/{name} already exists and is not owned by this App, so Baseplate applies nothing: the pods would read values it does not control. Baseplate creates the App's Secret itself; copy out any values you need, delete the Secret, and patch supplied values into the one Baseplate creates",
                name = app.name_any()
            ));
            return block(app, ctx, conflict, Outcome::Conflict).await;
        };
        let children = render::build(app, &settings, &secrets)?;
        match children::sync(ctx, app, &children, !generated.is_empty()).await {
            Err(Error::AppearedUnseen { child })
                if child.starts_with("Secret/") && !read_secret_first =>
            {
                read_secret_first = true;
            }
            report => break (secrets, generated, children, report?),
        }
    };
    if let Some(secret) = report.secret.take() {
        remember_secret(app, ctx, secret);
    }

    let mut degradations = Vec::new();
    if !report.conflicts.is_empty() {
        degradations.push(Degradation::NameConflict(format!(
            "{} already exist and are not owned by this App, so Baseplate leaves them alone; delete or rename them, or rename the App",
            report.conflicts.join(", ")
        )));
    }
    if !report.refused.is_empty() {
        degradations.push(Degradation::ApplyFailed(format!(
            "the API server refused {}",
            report.refused.join("; ")
        )));
    }
    let missing = secrets.missing_supplied(&app.spec);
    if !missing.is_empty() {
        degradations.push(Degradation::WaitingForSecret(format!(
            "supplied secret keys {} have no value yet; pods cannot start until they do: kubectl -n {namespace} patch secret {} --type merge -p '{{\"stringData\":{{\"{}\":\"...\"}}}}'",
            missing.join(", "),
            app.name_any(),
            missing[0]
        )));
    }
    let observed = Observed {
        generation: app.meta().generation,
        degradations,
        rollout: report.deployment.as_ref().map(Rollout::from_deployment),
        rendered: Some(Rendered {
            url: settings.url(),
            children: children.names(),
            platforms: settings.platforms.clone(),
        }),
    };
    // A status computed while the cache runs behind Baseplate's own apply of the Deployment
    // would describe the rollout as it was, and be written again moments later.
    let status_changed = if !report.deployment_awaits_cache() {
        write_status(app, ctx, &observed).await?
    } else {
        false
    };
    publish_events(app, ctx, &report, &generated, status_changed);
    ctx.metrics.record_writes(&report);
    Ok(if !report.conflicts.is_empty() {
        Outcome::Conflict
    } else if !report.awaiting_cache.is_empty() {
        Outcome::AwaitingCache
    } else {
        Outcome::Synced
    })
}

/// An App that cannot be rendered: its running children stay exactly as they are.
async fn reject(app: &App, ctx: &Context, error: RenderError) -> Result<Outcome, Error> {
    let degradation = match &error {
        RenderError::PolicyViolation(_) => Degradation::PolicyViolation(format!(
            "{error}; the running children were left unchanged"
        )),
        _ => Degradation::InvalidSpec(format!("{error}; the running children were left unchanged")),
    };
    block(app, ctx, degradation, Outcome::Invalid).await
}

/// Applies nothing and says why in the status (and once in an event).
async fn block(
    app: &App,
    ctx: &Context,
    degradation: Degradation,
    outcome: Outcome,
) -> Result<Outcome, Error> {
    let reason = degradation.reason();
    let message = degradation.message().to_string();
    let observed = Observed {
        generation: app.meta().generation,
        degradations: vec![degradation],
        rollout: None,
        rendered: None,
    };
    if write_status(app, ctx, &observed).await? {
        publish(ctx, app, EventType::Warning, reason, "Render", message);
    }
    Ok(outcome)
}

/// The App's Secret as it is, with values made for generated keys that have none. Looks at
/// the Secret only when the App declares keys, reads it from the API server only when the
/// cache shows a version not remembered, and generates only when it truly lacks values.
/// `None` when a Secret of that name exists that this App does not own: values generated for
/// it could never be stored, and pods would roll on every reconcile.
async fn secret_state(
    app: &App,
    ctx: &Context,
    read_first: bool,
) -> Result<Option<(SecretState, Vec<String>)>, Error> {
    if app
        .spec
        .secrets
        .as_ref()
        .is_none_or(|s| s.generate.is_empty() && s.supplied.is_empty())
    {
        return Ok(Some((SecretState::default(), Vec::new())));
    }
    let known = if read_first {
        None
    } else {
        remembered_secret(app, ctx)
    };
    let mut state = match known {
        Some(state) => state,
        None => match read_secret(app, ctx).await? {
            Some(state) => state,
            None => return Ok(None),
        },
    };
    let generated = state.generate_missing(&app.spec, ctx.generate_secret);
    Ok(Some((state, generated)))
}

/// The Secret's values as last read or written, if the cache shows that same version (or
/// shows nothing yet, moments after Baseplate created it); none while the cache shows no
/// Secret and nothing is remembered: a new App's Secret is created, not looked for (a
/// create never overwrites one that exists, see `children::CREATE_ONLY_VERSION`).
fn remembered_secret(app: &App, ctx: &Context) -> Option<SecretState> {
    let cached = children::cached(&ctx.children.secrets, app);
    let key = secret_key(app);
    let memory = ctx.memory.lock().expect("lock");
    let Some(remembered) = memory.secrets.get(&key) else {
        return cached.is_none().then(SecretState::default);
    };
    let current = match &cached {
        Some(meta) => {
            meta.metadata.resource_version.is_some()
                && meta.metadata.resource_version == remembered.resource_version
                && children::owned_by(&meta.metadata, app)
        }
        None => remembered.read_at.elapsed() < children::CACHE_LAG_ALLOWANCE,
    };
    current.then(|| remembered.values.clone())
}

/// Reads the Secret; `None` when it is not this App's.
async fn read_secret(app: &App, ctx: &Context) -> Result<Option<SecretState>, Error> {
    let api: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let existing = api
        .get_opt(&app.name_any())
        .await
        .map_err(|source| Error::Read {
            what: format!("Secret/{}", app.name_any()),
            source,
        })?;
    if let Some(secret) = &existing
        && !children::owned_by(&secret.metadata, app)
    {
        return Ok(None);
    }
    let Some(secret) = existing else {
        return Ok(Some(SecretState::default()));
    };
    Ok(Some(remember_secret(app, ctx, secret)))
}

fn remember_secret(app: &App, ctx: &Context, secret: Secret) -> SecretState {
    let values = SecretState::new(secret.data.unwrap_or_default());
    ctx.memory.lock().expect("lock").secrets.insert(
        secret_key(app),
        RememberedSecret {
            resource_version: secret.metadata.resource_version,
            values: values.clone(),
            read_at: Instant::now(),
        },
    );
    values
}

fn secret_key(app: &App) -> String {
    children::child_key(
        &app.namespace().unwrap_or_default(),
        &format!("Secret/{}", app.name_any()),
    )
}

/// Writes the status if it changed; returns whether it did.
async fn write_status(app: &App, ctx: &Context, observed: &Observed) -> Result<bool, Error> {
    let status = status::compute(app.status.as_ref(), observed, (ctx.clock)());
    if app.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let api: Api<App> = Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": App::api_version(&()),
        "kind": App::kind(&()),
        "status": status,
    });
    api.patch_status(
        &app.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::Status {
        app: ObjectRef::from_obj(app),
        source,
    })?;
    Ok(true)
}

fn publish_events(
    app: &App,
    ctx: &Context,
    report: &Report,
    generated: &[String],
    status_changed: bool,
) {
    // Names only: a secret value never reaches an event, a log line or the status.
    let had_secret = app
        .status
        .as_ref()
        .is_some_and(|s: &AppStatus| s.children.iter().any(|c| c.starts_with("Secret/")));
    let first_values = (!generated.is_empty() && !had_secret).then(|| {
        format!(
            "; generated values for secret keys {}",
            generated.join(", ")
        )
    });
    let lists = [
        (
            EventType::Normal,
            "Created",
            "Apply",
            "created",
            &report.created,
        ),
        (
            EventType::Normal,
            "Updated",
            "Apply",
            "updated",
            &report.updated,
        ),
        (
            EventType::Warning,
            "DriftCorrected",
            "Apply",
            "restored fields Baseplate owns that were changed by hand on",
            &report.drift_corrected,
        ),
        (
            EventType::Normal,
            "Pruned",
            "Prune",
            "deleted, no longer wanted by the App:",
            &report.pruned,
        ),
        (
            EventType::Warning,
            "NameConflict",
            "Apply",
            "left alone objects Baseplate does not own:",
            &report.conflicts,
        ),
        (
            EventType::Warning,
            "ApplyFailed",
            "Apply",
            "the API server refused",
            &report.refused,
        ),
    ];
    let mut told_values = false;
    for (type_, reason, action, verb, items) in lists {
        // A lasting problem is told once, when the status first reports it, not every reconcile.
        let lasting = reason == "NameConflict" || reason == "ApplyFailed";
        if reason == "DriftCorrected" {
            for item in items {
                let related = child_reference(app, item);
                publish_about(
                    ctx,
                    app,
                    related,
                    type_,
                    reason,
                    action,
                    format!("{verb} {item}"),
                );
            }
            continue;
        }
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
    }
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

/// A reference to the App's child named by a `Kind/name` label.
fn child_reference(app: &App, label: &str) -> Option<ObjectReference> {
    let (kind, name) = label.split_once('/')?;
    let api_version = match kind {
        "Deployment" => "apps/v1",
        "HorizontalPodAutoscaler" => "autoscaling/v2",
        "PodDisruptionBudget" => "policy/v1",
        "Ingress" => "networking.k8s.io/v1",
        _ => "v1",
    };
    Some(ObjectReference {
        api_version: Some(api_version.into()),
        kind: Some(kind.into()),
        name: Some(name.into()),
        namespace: app.namespace(),
        ..Default::default()
    })
}

fn publish(ctx: &Context, app: &App, type_: EventType, reason: &str, action: &str, note: String) {
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
