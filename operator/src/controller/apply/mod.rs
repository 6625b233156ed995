//! Applying and pruning an App's children with server-side apply.
//!
//! Only objects that carry Baseplate's labels and a controller owner reference to this App's
//! UID are ever changed or deleted. An object of the same name that Baseplate does not own is
//! left alone and reported as a conflict.

mod cached;
mod handover;
mod plan;
mod prune;
mod report;
mod write;

use std::fmt::Debug;

use baseplate_crd::{App, ChildRef, Children};
use k8s_openapi::NamespaceResourceScope;
use kube::api::Api;
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
use super::owner::child_of;
use cached::{CachedChild, SpecDigest};
use plan::{Plan, plan, version_of};
use report::Change;
use write::WriteOptions;

/// Applies what the App wants and prunes what it no longer wants, in dependency order
/// ([`baseplate_crd::child::ApplyStage`]): Secret and ConfigMap before the Deployment that
/// reads them, the Deployment before what points at it. Children of one stage are applied at
/// once. `fresh_secret_values`: this reconcile generated secret values that exist nowhere
/// else yet.
pub async fn sync(
    ctx: &Context,
    app: &App,
    children: &Children,
    fresh_secret_values: bool,
) -> Result<Report, Error> {
    // No `..`: a kind added to Children must be applied and pruned here to compile.
    let Children {
        config_map,
        secret,
        migration_job: _,
        deployment,
        cron_jobs: _,
        service,
        horizontal_pod_autoscaler,
        pod_disruption_budget,
        ingress,
    } = children;
    let mut report = Report::default();
    handover::hand_over_if_needed(ctx, app, children).await?;

    let secret_options = WriteOptions {
        // Fresh values must never overwrite values that exist: if the Secret turns out to
        // exist, the reconcile starts over and reads them.
        exists_is_retryable: fresh_secret_values,
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
    if fresh_secret_values && !secret_written {
        // The Deployment's secret hash would describe values that were never stored, and
        // change on every reconcile: leave the workload as it runs until the Secret is written.
        return Ok(report);
    }

    let deployment = sync_one(ctx, app, deployment.as_ref(), plain).await?;
    report.deployment = deployment.applied.or_else(|| {
        cached(&ctx.children.deployments, &deployment.child).map(|d| d.as_ref().clone())
    });
    report.record(deployment.child, deployment.change);

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

/// Applies `desired` when it is `Some`, prunes the App's object of this kind when it is `None`.
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
    let child = child_of(app, K::CHILD_KIND);
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
    let plan = {
        let mut memory = ctx.memory.lock().expect("lock");
        let last = memory.applied.get_mut(&child);
        let version = cached_object
            .as_ref()
            .map(|c| version_of(c.meta(), c.spec_digest(), desired.meta()));
        let plan = plan(last.as_deref(), digest, version.as_ref(), Instant::now());
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
            write::apply(ctx, app, &api, desired, digest, cached, &child, options).await?
        }
    };
    Ok(Synced {
        child,
        applied,
        change,
    })
}
