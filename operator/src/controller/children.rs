//! Applying and pruning an App's children with server-side apply.
//!
//! Only objects that carry Baseplate's labels and a controller owner reference to this App's
//! UID are ever changed or deleted. An object of the same name that Baseplate does not own is
//! left alone and reported as a conflict.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use baseplate_crd::{App, Children, labels};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::{AppliedChild, Context};
use super::error::{Error, is_transient};

/// The field manager of every write Baseplate makes.
pub const MANAGER: &str = "baseplate";
/// Holds a Deployment's replica count while it passes from Baseplate to the autoscaler.
pub const REPLICAS_HANDOVER_MANAGER: &str = "baseplate-replicas-handover";

/// What applying one App's children did.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub drift_corrected: Vec<String>,
    pub pruned: Vec<String>,
    /// Children not applied because a foreign object has their name.
    pub conflicts: Vec<String>,
    /// Children the API server refused for a reason retrying will not fix.
    pub refused: Vec<String>,
    /// The Deployment with its status: as the API server answered the apply, or as cached
    /// when nothing had to be applied.
    pub deployment: Option<Deployment>,
}

/// Applies what the App wants and prunes what it no longer wants, in dependency order:
/// ConfigMap and Secret before the Deployment that reads them, the Deployment before what
/// points at it.
/// `fresh_secret_values`: this reconcile generated secret values that exist nowhere else yet.
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
        deployment,
        service,
        horizontal_pod_autoscaler,
        pod_disruption_budget,
        ingress,
    } = children;
    let stores = &ctx.children;
    let mut report = Report::default();
    if let Some(replicas) = replicas_to_hand_over(ctx, app, children) {
        hand_over_replicas(ctx, app, replicas).await?;
    }
    sync_one(ctx, app, Some(config_map), &stores.config_maps, &mut report).await?;
    sync_one(ctx, app, Some(secret), &stores.secrets, &mut report).await?;
    let secret_label = format!("Secret/{}", app.name_any());
    let secret_not_written = report.conflicts.contains(&secret_label)
        || report
            .refused
            .iter()
            .any(|r| r.starts_with(&format!("{secret_label}:")));
    if fresh_secret_values && secret_not_written {
        // The Deployment's secret hash would describe values that were never stored, and
        // change on every reconcile: leave the workload as it runs until the Secret is written.
        return Ok(report);
    }
    let applied = sync_one(ctx, app, Some(deployment), &stores.deployments, &mut report).await?;
    report.deployment =
        applied.or_else(|| cached(&stores.deployments, app).map(|d| d.as_ref().clone()));
    sync_one(ctx, app, service.as_ref(), &stores.services, &mut report).await?;
    sync_one(
        ctx,
        app,
        horizontal_pod_autoscaler.as_ref(),
        &stores.horizontal_pod_autoscalers,
        &mut report,
    )
    .await?;
    sync_one(
        ctx,
        app,
        pod_disruption_budget.as_ref(),
        &stores.pod_disruption_budgets,
        &mut report,
    )
    .await?;
    sync_one(ctx, app, ingress.as_ref(), &stores.ingresses, &mut report).await?;
    Ok(report)
}

/// The cached child of this App in `store` (every child has the App's name).
fn cached<S: Resource<DynamicType = ()> + Clone>(store: &Store<S>, app: &App) -> Option<Arc<S>> {
    store.get(&ObjectRef::new(&app.name_any()).within(&app.namespace().unwrap_or_default()))
}

/// The running replica count, when the App now wants an autoscaler it did not have and its
/// Deployment already runs with a count Baseplate set.
fn replicas_to_hand_over(ctx: &Context, app: &App, children: &Children) -> Option<i32> {
    let wants_autoscaler = children.horizontal_pod_autoscaler.is_some()
        && children
            .deployment
            .spec
            .as_ref()
            .is_some_and(|s| s.replicas.is_none());
    let had_autoscaler = cached(&ctx.children.horizontal_pod_autoscalers, app).is_some();
    let running = cached(&ctx.children.deployments, app).filter(|d| owned_by(&d.metadata, app))?;
    (wants_autoscaler && !had_autoscaler).then(|| running.spec.as_ref()?.replicas)?
}

/// Server-side apply removes a field its only manager stops sending, and a Deployment without
/// `spec.replicas` runs one pod: dropping `replicas` for the autoscaler would shrink the App
/// to a single replica until the HPA acts. So the current count is first handed to a separate
/// field manager, which keeps it until the HPA takes the field over.
async fn hand_over_replicas(ctx: &Context, app: &App, replicas: i32) -> Result<(), Error> {
    let name = app.name_any();
    let api: Api<Deployment> =
        Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let handover = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
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
        child: format!("Deployment/{name}"),
        source,
    })?;
    Ok(())
}

/// Applies `desired` when it is `Some`, prunes the App's object of this kind when it is `None`.
/// `S` is what the cache holds for `K`: its metadata only, or a slimmed copy.
async fn sync_one<K, S>(
    ctx: &Context,
    app: &App,
    desired: Option<&K>,
    store: &Store<S>,
    report: &mut Report,
) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
    S: Resource<DynamicType = ()> + Clone,
{
    let namespace = app.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let label = format!("{}/{}", K::kind(&()), app.name_any());
    let key = child_key(&namespace, &label);
    let cached = cached(store, app).map(|c| c.meta().clone());
    match desired {
        Some(desired) => {
            let digest = digest(desired);
            if let Some(meta) = &cached
                && unchanged_since_last_apply(ctx, &key, digest, meta)
            {
                return Ok(None);
            }
            apply(ctx, app, &api, desired, digest, cached, label, report).await
        }
        None => {
            if let Some(existing) = cached
                && owned_by(&existing, app)
                && has_our_labels(&existing)
            {
                prune(&api, &existing, &label).await?;
                ctx.applied.lock().expect("lock").remove(&key);
                report.pruned.push(label);
            }
            Ok(None)
        }
    }
}

/// Nothing to apply: the same object as last time, and the cache shows nobody changed the
/// child since (its spec generation, or its resourceVersion where it has no generation, and
/// its labels, annotations and owners). Status updates by other controllers do not count,
/// so a busy autoscaler or rollout costs no writes.
fn unchanged_since_last_apply(ctx: &Context, key: &str, digest: u64, cached: &ObjectMeta) -> bool {
    let applied = ctx.applied.lock().expect("lock");
    applied.get(key).is_some_and(|last| {
        last.desired_digest == digest
            && last.fingerprint == fingerprint(cached)
            && match (last.generation, cached.generation) {
                (Some(then), Some(now)) => then == now,
                _ => {
                    last.resource_version.is_some()
                        && last.resource_version == cached.resource_version
                }
            }
    })
}

/// What in a child's metadata Baseplate sets or relies on.
fn fingerprint(meta: &ObjectMeta) -> u64 {
    digest(&(
        &meta.labels,
        &meta.annotations,
        &meta.owner_references,
        &meta.deletion_timestamp,
    ))
}

#[allow(clippy::too_many_arguments)]
async fn apply<K>(
    ctx: &Context,
    app: &App,
    api: &Api<K>,
    desired: &K,
    digest: u64,
    cached: Option<ObjectMeta>,
    label: String,
    report: &mut Report,
) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    let name = app.name_any();
    // Our own children are in the cache; anything else with this name must be looked at
    // before it is touched, so that a foreign object is never taken over.
    let existing = match cached {
        Some(meta) => Some(meta),
        None => api
            .get_metadata_opt(&name)
            .await
            .map_err(|source| Error::Read {
                what: label.clone(),
                source,
            })?
            .map(|m| m.metadata),
    };
    if let Some(meta) = &existing
        && !owned_by(meta, app)
    {
        report.conflicts.push(label);
        return Ok(None);
    }

    let key = child_key(&app.namespace().unwrap_or_default(), &label);
    let params = PatchParams::apply(MANAGER).force();
    let applied = match api.patch(&name, &params, &Patch::Apply(desired)).await {
        Ok(applied) => applied,
        Err(source) if is_transient(&source) => {
            return Err(Error::Apply {
                child: label,
                source,
            });
        }
        Err(source) => {
            report
                .refused
                .push(format!("{label}: {}", api_message(&source)));
            return Ok(None);
        }
    };

    let answered = applied.meta();
    let previous = ctx.applied.lock().expect("lock").insert(
        key,
        AppliedChild {
            desired_digest: digest,
            resource_version: answered.resource_version.clone(),
            generation: answered.generation,
            fingerprint: fingerprint(answered),
        },
    );
    let known_versions = [
        existing.as_ref().and_then(|m| m.resource_version.clone()),
        previous.as_ref().and_then(|p| p.resource_version.clone()),
    ];
    let changed = !known_versions.contains(&answered.resource_version);
    if existing.is_none() {
        report.created.push(label);
    } else if changed {
        match previous {
            // Same desired object as last time, yet the apply changed something: someone edited it.
            Some(p) if p.desired_digest == digest => report.drift_corrected.push(label),
            _ => report.updated.push(label),
        }
    }
    Ok(Some(applied))
}

async fn prune<K>(api: &Api<K>, meta: &ObjectMeta, label: &str) -> Result<(), Error>
where
    K: Resource + Clone + Debug + DeserializeOwned,
{
    // The UID precondition makes sure the object deleted is the one found to be ours.
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: meta.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api
        .delete(meta.name.as_deref().unwrap_or_default(), &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(Error::Prune {
            child: label.to_string(),
            source,
        }),
    }
}

/// Whether this App is the controller owner of the object.
pub fn owned_by(meta: &ObjectMeta, app: &App) -> bool {
    let uid = app.meta().uid.as_deref();
    uid.is_some()
        && meta
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == uid)
}

fn has_our_labels(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(labels::MANAGED_BY))
        .map(String::as_str)
        == Some(labels::MANAGER)
}

fn child_key(namespace: &str, label: &str) -> String {
    format!("{namespace}/{label}")
}

fn digest<K: Serialize>(object: &K) -> u64 {
    let mut hasher = DefaultHasher::new();
    serde_json::to_string(object)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

/// The API server's own words for a refused request.
pub fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}
