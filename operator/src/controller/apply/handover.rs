//! Handing a Deployment's replica count over to an autoscaler without the App shrinking.
//!
//! Server-side apply removes a field its only manager stops sending, and a Deployment without
//! `spec.replicas` runs one pod: dropping `replicas` for the autoscaler would shrink the App
//! to a single replica until the HPA acts. So the current count is first handed to a separate
//! field manager, which keeps it until the HPA takes the field over.

use baseplate_crd::{App, ChildKind, Children};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use crate::controller::context::{Context, cached};
use crate::controller::error::Error;
use crate::controller::owner::{child_of, owned_by};

/// Holds a Deployment's replica count while it passes from Baseplate to the autoscaler.
pub const REPLICAS_HANDOVER_MANAGER: &str = "baseplate-replicas-handover";

/// Hands the running replica count over first, when the App now wants an autoscaler it did
/// not have and its Deployment already runs with a count Baseplate set.
pub async fn hand_over_if_needed(
    ctx: &Context,
    app: &App,
    children: &Children,
) -> Result<(), Error> {
    match replicas_to_hand_over(ctx, app, children) {
        Some(replicas) => hand_over(ctx, app, replicas).await,
        None => Ok(()),
    }
}

fn replicas_to_hand_over(ctx: &Context, app: &App, children: &Children) -> Option<i32> {
    let wants_autoscaler = children.horizontal_pod_autoscaler.is_some()
        && children
            .deployment
            .as_ref()
            .and_then(|d| d.spec.as_ref())
            .is_some_and(|s| s.replicas.is_none());
    let autoscaler = child_of(app, ChildKind::HorizontalPodAutoscaler);
    // Applied moments ago counts too: the cache may not show it yet.
    let had_autoscaler = ctx.children.meta(&autoscaler).is_some()
        || ctx
            .memory
            .lock()
            .expect("lock")
            .applied
            .contains_key(&autoscaler);
    let running = cached(
        &ctx.children.deployments,
        &child_of(app, ChildKind::Deployment),
    )
    .filter(|d| owned_by(&d.metadata, app))?;
    (wants_autoscaler && !had_autoscaler).then(|| running.spec.as_ref()?.replicas)?
}

async fn hand_over(ctx: &Context, app: &App, replicas: i32) -> Result<(), Error> {
    let name = app.name_any();
    let api: Api<Deployment> =
        Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let handover = serde_json::json!({
        "apiVersion": Deployment::api_version(&()),
        "kind": Deployment::kind(&()),
        "metadata": { "name": name },
        "spec": { "replicas": replicas },
    });
    api.patch(
        &name,
        &PatchParams::apply(REPLICAS_HANDOVER_MANAGER),
        &Patch::Apply(&handover),
    )
    .await
    .map_err(|source| Error::Apply {
        child: child_of(app, ChildKind::Deployment),
        source,
    })?;
    Ok(())
}
