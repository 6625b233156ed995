//! One reconcile, as a pipeline: the App → the Platforms its namespace selects → resolve →
//! check → render (pure) → apply and prune → status → events.

use std::sync::Arc;

use baseplate_crd::{
    App, ChildKind, Children, EffectivePlatform, RenderError, Settings, policy, render, resolve,
};
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use tracing::warn;

use super::apply::{self, Report, SyncOptions};
use super::context::Context;
use super::error::Error;
use super::events;
use super::observe::{self, SecretValues};
use super::retry::{self, Outcome};
use super::status::{self, Degradation, Observed, Written};

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
    match result {
        Ok(outcome) => {
            ctx.metrics
                .record_reconcile(started.elapsed(), outcome.label());
            Ok(retry::after_success(&guard, outcome, &ctx))
        }
        Err(error) => {
            ctx.metrics
                .record_reconcile_error(started.elapsed(), error.category());
            if let Ok(app) = &guard.0 {
                let note = format!("{error}; retrying with backoff");
                events::publish(
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

async fn reconcile_app(app: &App, ctx: &Context) -> Result<Outcome, Error> {
    if app.meta().deletion_timestamp.is_some() {
        // Garbage collection removes the children through their owner references.
        return Ok(Outcome::Invalid);
    }
    let (platform, revisions) = observe::platform(app, ctx);
    let settings = match resolve_and_check(app, &platform) {
        Ok(settings) => settings,
        Err(error) => {
            let degradation = status::rejected(&error);
            return block(app, ctx, degradation, revisions, Outcome::Invalid).await;
        }
    };
    let Some(Synced {
        secrets,
        children,
        report,
    }) = render_and_sync(app, ctx, &settings).await?
    else {
        let degradation = status::foreign_secret(app);
        return block(app, ctx, degradation, revisions, Outcome::Conflict).await;
    };
    let pods = observe::rollout_pods(app, ctx, report.deployment.as_ref());
    let mut observed = status::after_sync(
        app,
        &settings,
        &children,
        &report,
        &secrets.state,
        pods.stalled,
    );
    observed.platform_revisions = revisions;
    // A status computed while the cache runs behind Baseplate's own apply of the Deployment
    // would describe the rollout as it was, and be written again moments later.
    let written = if report.deployment_awaits_cache() {
        Written::Unchanged
    } else {
        status::write(app, ctx, &observed).await?
    };
    if written == Written::AppGone {
        // Deleted mid-reconcile: its children go with it (owner references); nothing to tell.
        return Ok(Outcome::Gone);
    }
    let status_changed = written.changed();
    if status_changed {
        // Staged Platforms count this App's progress from its status.
        ctx.rollouts.notify_one();
    }
    events::publish_changes(app, ctx, &report, &secrets.generated, status_changed);
    events::publish_batch(app, ctx, &observed, status_changed);
    if status_changed && let Some(stalled) = status::new_cause(app.status.as_ref(), &observed) {
        events::publish(
            ctx,
            app,
            EventType::Warning,
            stalled.problem.reason(),
            "Rollout",
            stalled.problem.message(),
        );
    }
    report.record_writes(&ctx.metrics);
    Ok(Outcome::after_sync(&report, pods.recheck))
}

/// The App's settings from its Platforms and built-in defaults, within the Platforms' guardrails.
fn resolve_and_check(app: &App, platform: &EffectivePlatform) -> Result<Settings, RenderError> {
    let settings = resolve::resolve(app, platform)?;
    let violations = policy::check(&app.spec, &settings, platform);
    if violations.is_empty() {
        Ok(settings)
    } else {
        Err(RenderError::PolicyViolation(violations))
    }
}

/// What rendering and applying the App's children produced.
struct Synced {
    secrets: SecretValues,
    children: Children,
    report: Report,
}

/// Renders the children with the App's secret values and applies them. The Secret is
/// presumed absent while the cache shows none; if the create finds one after all, it is read
/// and everything rendered again, once. `None` when a Secret of the App's name is not its own.
async fn render_and_sync(
    app: &App,
    ctx: &Context,
    settings: &Settings,
) -> Result<Option<Synced>, Error> {
    let mut read_secret_first = false;
    loop {
        let Some(secrets) = observe::secret(app, ctx, read_secret_first).await? else {
            return Ok(None);
        };
        let children = render::build(app, settings, &secrets.state)?;
        let options = SyncOptions {
            fresh_secret_values: !secrets.generated.is_empty(),
            supplied_secrets_present: secrets.state.missing_supplied(&app.spec).is_empty(),
            migration_history: settings
                .migration
                .as_ref()
                .map_or(0, |m| usize::try_from(m.history_limit).unwrap_or(1)),
        };
        match apply::sync(ctx, app, &children, options).await {
            Err(Error::AppearedUnseen { child })
                if child.kind == ChildKind::Secret && !read_secret_first =>
            {
                read_secret_first = true;
            }
            report => {
                let mut report = report?;
                if let Some(secret) = report.secret.take() {
                    observe::remember_secret(app, ctx, secret);
                }
                return Ok(Some(Synced {
                    secrets,
                    children,
                    report,
                }));
            }
        }
    }
}

/// Applies nothing and says why in the status (and once in an event).
async fn block(
    app: &App,
    ctx: &Context,
    degradation: Degradation,
    platform_revisions: Vec<(String, String)>,
    outcome: Outcome,
) -> Result<Outcome, Error> {
    let reason = degradation.reason();
    let message = degradation.message().to_string();
    let observed = Observed {
        platform_revisions,
        ..Observed::blocked(app.meta().generation, degradation)
    };
    match status::write(app, ctx, &observed).await? {
        Written::Written => {
            ctx.rollouts.notify_one();
            events::publish(ctx, app, EventType::Warning, reason, "Render", message);
        }
        Written::AppGone => return Ok(Outcome::Gone),
        Written::Unchanged => {}
    }
    Ok(outcome)
}
