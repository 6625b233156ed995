//! Applying and pruning an App's children with server-side apply.
//!
//! Only objects that carry Baseplate's labels and a controller owner reference to this App's
//! UID are ever changed or deleted. An object of the same name that Baseplate does not own is
//! left alone and reported as a conflict.

mod cached;
mod fields;
mod handover;
pub mod migration;
mod plan;
mod prune;
mod report;
mod write;

use std::fmt::Debug;

use std::sync::Arc;

use baseplate_crd::{App, ChildKind, ChildObject, ChildRef, Children, labels as label_keys};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::Api;
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

pub use handover::REPLICAS_HANDOVER_MANAGER;
pub use plan::CACHE_LAG_ALLOWANCE;
pub use report::{Report, labels};
pub use write::{CREATE_ONLY_VERSION, FIELD_MANAGER};

use super::context::{Context, cached};
use super::error::Error;
use super::owner::{child_of, has_our_labels, owned_by};
use cached::CachedChild;
pub use fields::keep_own as keep_own_managed_fields;
use plan::{Plan, plan};
use report::Change;
use write::WriteOptions;

/// What the sync needs to know besides the children.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncOptions {
    /// This reconcile generated secret values that exist nowhere else yet.
    pub fresh_secret_values: bool,
    /// Every supplied secret key has a value (else a migration pod could not start).
    pub supplied_secrets_present: bool,
    /// Migration Jobs kept, the current one included (0 when the App has no `migrate`).
    pub migration_history: usize,
}

/// Applies what the App wants and prunes what it no longer wants, in dependency order
/// ([`baseplate_crd::child::ApplyStage`]): Secret and ConfigMap before everything that reads
/// them, the migration before the workload, the workload (Deployment, CronJobs) before what
/// points at it. Children of one stage are applied at once.
///
/// The migration gates the workload: until the current version's Job has succeeded, the
/// Deployment and the CronJobs are left as they run (neither applied nor pruned), and an App
/// that has no Deployment yet gets nothing that points at one either.
pub async fn sync(
    ctx: &Context,
    app: &App,
    children: &Children,
    options: SyncOptions,
) -> Result<Report, Error> {
    // No `..`: a kind added to Children must be applied and pruned here to compile.
    let Children {
        config_map,
        secret,
        migration_job,
        deployment,
        cron_jobs,
        service,
        horizontal_pod_autoscaler,
        pod_disruption_budget,
        ingress,
    } = children;
    let mut report = Report::default();

    let secret_options = WriteOptions {
        // Fresh values must never overwrite values that exist: if the Secret turns out to
        // exist, the reconcile starts over and reads them.
        exists_is_retryable: options.fresh_secret_values,
    };
    let plain = WriteOptions::default();
    let (secret, config_map) = futures::join!(
        sync_one(ctx, app, Some(secret), secret_options),
        sync_one(ctx, app, Some(config_map), plain),
    );
    let secret = secret?;
    let secret_written = !matches!(secret.change, Change::Conflict | Change::Refused(_));
    report.secret = secret.applied;
    report.record(secret.child, secret.change);
    let config_map = config_map?;
    report.record(config_map.child, config_map.change);
    if options.fresh_secret_values && !secret_written {
        // The Deployment's secret hash would describe values that were never stored, and
        // change on every reconcile: leave the workload as it runs until the Secret is written.
        return Ok(report);
    }

    let previous = app.status.as_ref().and_then(|s| s.migration.as_ref());
    report.migration = migration::sync(
        ctx,
        app,
        migration_job.as_ref(),
        options.migration_history,
        options.supplied_secrets_present,
        previous,
        &mut report,
    )
    .await?;
    let running = cached(
        &ctx.children.deployments,
        &child_of(app, ChildKind::Deployment),
    );
    if report.migration.as_ref().is_some_and(|m| !m.passed()) {
        report.deployment = running.map(|d| d.as_ref().clone());
        report.cron_jobs = cron_jobs
            .iter()
            .filter_map(|c| cached(&ctx.children.cron_jobs, &named_child(app, c)))
            .map(|c| c.as_ref().clone())
            .collect();
        if report.deployment.is_none() {
            // A new App: its Service, autoscaler and budget would point at nothing.
            return Ok(report);
        }
    } else {
        handover::hand_over_if_needed(ctx, app, children).await?;
        let (deployment, crons) = futures::join!(
            sync_one(ctx, app, deployment.as_ref(), plain),
            sync_cron_jobs(ctx, app, cron_jobs),
        );
        let deployment = deployment?;
        report.deployment = deployment.applied.or_else(|| {
            cached(&ctx.children.deployments, &deployment.child).map(|d| d.as_ref().clone())
        });
        report.record(deployment.child, deployment.change);
        for synced in crons? {
            if let Some(cron) = synced.applied.or_else(|| {
                cached(&ctx.children.cron_jobs, &synced.child).map(|c| c.as_ref().clone())
            }) {
                report.cron_jobs.push(cron);
            }
            report.record(synced.child, synced.change);
        }
        for pruned in prune_cron_jobs(ctx, app, cron_jobs).await? {
            report.record(pruned, Change::Pruned);
        }
    }

    let (service, autoscaler, disruption_budget, ingress) = futures::join!(
        sync_one(ctx, app, service.as_ref(), plain),
        sync_one(ctx, app, horizontal_pod_autoscaler.as_ref(), plain),
        sync_one(ctx, app, pod_disruption_budget.as_ref(), plain),
        sync_one(ctx, app, ingress.as_ref(), plain),
    );
    for synced in [
        service.map(Synced::forget_object),
        autoscaler.map(Synced::forget_object),
        disruption_budget.map(Synced::forget_object),
        ingress.map(Synced::forget_object),
    ] {
        let synced = synced?;
        report.record(synced.child, synced.change);
    }
    Ok(report)
}

/// Applies every CronJob the App wants, at once.
async fn sync_cron_jobs(
    ctx: &Context,
    app: &App,
    desired: &[CronJob],
) -> Result<Vec<Synced<CronJob>>, Error> {
    futures::future::try_join_all(
        desired
            .iter()
            .map(|cron| sync_one(ctx, app, Some(cron), WriteOptions::default())),
    )
    .await
}

/// Deletes the App's CronJobs of entries it no longer has (removed or renamed).
async fn prune_cron_jobs(
    ctx: &Context,
    app: &App,
    desired: &[CronJob],
) -> Result<Vec<ChildRef>, Error> {
    let api: Api<CronJob> =
        Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let mut pruned = Vec::new();
    for found in owned_in_cache(&ctx.children.cron_jobs, app) {
        let child = named_child(app, found.as_ref());
        if desired.iter().any(|d| d.meta().name == found.meta().name) {
            continue;
        }
        if prune::prune(ctx, app, &api, Some(found.metadata.clone()), &child).await?
            == Change::Pruned
        {
            pruned.push(child);
        }
    }
    Ok(pruned)
}

/// The App's own objects in a child cache (its controller owner reference and Baseplate's
/// labels): for kinds an App has several of, whose names are their own.
pub fn owned_in_cache<S>(store: &Store<S>, app: &App) -> Vec<Arc<S>>
where
    S: Resource<DynamicType = ()> + Clone + 'static,
{
    let namespace = app.namespace();
    let name = app.name_any();
    store
        .state()
        .into_iter()
        .filter(|object| {
            let meta = object.meta();
            meta.namespace == namespace
                && meta.labels.as_ref().and_then(|l| l.get(label_keys::APP)) == Some(&name)
                && owned_by(meta, app)
                && has_our_labels(meta)
        })
        .collect()
}

/// The reference of a child with a name of its own.
fn named_child<K: ChildObject + Resource<DynamicType = ()>>(app: &App, object: &K) -> ChildRef {
    ChildRef {
        kind: K::CHILD_KIND,
        namespace: app.namespace().unwrap_or_default(),
        name: object.meta().name.clone().unwrap_or_default(),
    }
}

/// What syncing one child did.
struct Synced<K> {
    child: ChildRef,
    /// The object the API server answered an apply with.
    applied: Option<K>,
    change: Change,
}

impl<K> Synced<K> {
    fn forget_object(self) -> Synced<()> {
        Synced {
            child: self.child,
            applied: None,
            change: self.change,
        }
    }
}

/// Applies `desired` when it is `Some`, prunes the App's object of this kind when it is `None`
/// (kinds an App has one of, named after it).
async fn sync_one<K>(
    ctx: &Context,
    app: &App,
    desired: Option<&K>,
    options: WriteOptions,
) -> Result<Synced<K>, Error>
where
    K: CachedChild
        + Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    let child = match desired {
        Some(object) => named_child(app, object),
        None => child_of(app, K::CHILD_KIND),
    };
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let cached_object = cached(K::store(&ctx.children), &child);
    let cached = cached_object.as_ref().map(|c| c.meta().clone());
    let Some(desired) = desired else {
        let change = prune::prune(ctx, app, &api, cached, &child).await?;
        return Ok(Synced {
            child,
            applied: None,
            change,
        });
    };
    let digest = plan::digest(desired);
    let desired = plan::stamped(desired, digest);
    let cached_now = plan::compare(cached.as_ref(), &desired, digest);
    let plan = {
        let mut memory = ctx.memory.lock().expect("lock");
        let mut last = memory.applied.get_mut(&child);
        if let (Some(last), Some(meta)) = (last.as_deref_mut(), cached.as_ref()) {
            // The cache shows this apply's result, or a later spec (generations only grow):
            // from now on a difference is someone's change, not the watch running behind.
            last.seen |= meta.resource_version.is_some()
                && meta.resource_version == last.resource_version
                || meta
                    .generation
                    .zip(last.generation)
                    .is_some_and(|(now, then)| now > then);
        }
        let plan = plan(last.as_deref(), digest, cached_now, Instant::now());
        if plan == Plan::UpToDate
            && let Some(last) = last
        {
            last.seen = true;
        }
        plan
    };
    let (applied, change) = match plan {
        Plan::UpToDate => (None, Change::None),
        Plan::AwaitCache => (None, Change::AwaitingCache),
        Plan::Apply => {
            write::apply(ctx, app, &api, &desired, digest, cached, &child, options).await?
        }
    };
    Ok(Synced {
        child,
        applied,
        change,
    })
}
