//! Applying and pruning an App's children with server-side apply.
//!
//! Only objects that carry Baseplate's labels and a controller owner reference to this App's
//! UID are ever changed or deleted. An object of the same name that Baseplate does not own is
//! left alone and reported as a conflict.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use baseplate_crd::{App, Children, labels};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::context::{AppliedChild, ChildVersion, Context};
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
    /// Children applied moments ago that the cache does not show yet: this reconcile could
    /// not see them as they are, so it should look again soon.
    pub awaiting_cache: Vec<String>,
    /// The Deployment with its status: as the API server answered the apply, or as cached
    /// when nothing had to be applied.
    pub deployment: Option<Deployment>,
    /// The Secret as the API server answered its apply.
    pub secret: Option<Secret>,
}

/// What syncing one child did.
#[derive(Debug, PartialEq)]
enum Change {
    None,
    AwaitingCache,
    Created,
    Updated,
    DriftCorrected,
    Pruned,
    Conflict,
    Refused(String),
}

impl Report {
    /// The cache does not show the Deployment as last applied yet, so neither is its rollout
    /// known.
    pub fn deployment_awaits_cache(&self) -> bool {
        self.awaiting_cache
            .iter()
            .any(|label| label.starts_with("Deployment/"))
    }

    fn record(&mut self, label: String, change: Change) {
        match change {
            Change::None => {}
            Change::AwaitingCache => self.awaiting_cache.push(label),
            Change::Created => self.created.push(label),
            Change::Updated => self.updated.push(label),
            Change::DriftCorrected => self.drift_corrected.push(label),
            Change::Pruned => self.pruned.push(label),
            Change::Conflict => self.conflicts.push(label),
            Change::Refused(message) => self.refused.push(format!("{label}: {message}")),
        }
    }
}

/// Applies what the App wants and prunes what it no longer wants, in dependency order:
/// Secret and ConfigMap before the Deployment that reads them, the Deployment before what
/// points at it. Children of one stage are applied at once.
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

    let secret_options = SyncOptions {
        // Fresh values must never overwrite values that exist: if the Secret turns out to
        // exist, the reconcile starts over and reads them.
        exists_is_retryable: fresh_secret_values,
    };
    let (secret_sync, config_map_sync) = futures::join!(
        sync_one(ctx, app, Some(secret), &stores.secrets, secret_options),
        sync_one(
            ctx,
            app,
            Some(config_map),
            &stores.config_maps,
            SyncOptions::default()
        ),
    );
    let (applied_secret, secret_label, secret_change) = secret_sync?;
    let secret_written = !matches!(secret_change, Change::Conflict | Change::Refused(_));
    report.secret = applied_secret;
    report.record(secret_label, secret_change);
    let (_, label, change) = config_map_sync?;
    report.record(label, change);
    if fresh_secret_values && !secret_written {
        // The Deployment's secret hash would describe values that were never stored, and
        // change on every reconcile: leave the workload as it runs until the Secret is written.
        return Ok(report);
    }

    let (applied, label, change) = sync_one(
        ctx,
        app,
        Some(deployment),
        &stores.deployments,
        SyncOptions::default(),
    )
    .await?;
    report.record(label, change);
    report.deployment =
        applied.or_else(|| cached(&stores.deployments, app).map(|d| d.as_ref().clone()));

    let plain = SyncOptions::default();
    let (service, hpa, pdb, ingress) = futures::join!(
        sync_one(ctx, app, service.as_ref(), &stores.services, plain),
        sync_one(
            ctx,
            app,
            horizontal_pod_autoscaler.as_ref(),
            &stores.horizontal_pod_autoscalers,
            plain
        ),
        sync_one(
            ctx,
            app,
            pod_disruption_budget.as_ref(),
            &stores.pod_disruption_budgets,
            plain
        ),
        sync_one(ctx, app, ingress.as_ref(), &stores.ingresses, plain),
    );
    for result in [
        service.map(|(_, l, c)| (l, c)),
        hpa.map(|(_, l, c)| (l, c)),
        pdb.map(|(_, l, c)| (l, c)),
        ingress.map(|(_, l, c)| (l, c)),
    ] {
        let (label, change) = result?;
        report.record(label, change);
    }
    Ok(report)
}

/// The cached child of this App in `store` (every child has the App's name).
pub fn cached<S: Resource<DynamicType = ()> + Clone>(
    store: &Store<S>,
    app: &App,
) -> Option<Arc<S>> {
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
    // Applied moments ago counts too: the cache may not show it yet.
    let had_autoscaler = cached(&ctx.children.horizontal_pod_autoscalers, app).is_some()
        || ctx
            .memory
            .lock()
            .expect("lock")
            .applied
            .contains_key(&child_key(
                &app.namespace().unwrap_or_default(),
                &format!("HorizontalPodAutoscaler/{}", app.name_any()),
            ));
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

#[derive(Clone, Copy, Debug, Default)]
struct SyncOptions {
    /// When the child turns out to exist though the cache does not show it, fail the
    /// reconcile (to be retried) instead of looking at it and applying.
    exists_is_retryable: bool,
}

/// Applies `desired` when it is `Some`, prunes the App's object of this kind when it is `None`.
/// `S` is what the cache holds for `K`: its metadata only, or a slimmed copy. Returns the
/// object the API server answered an apply with, the child's label and what changed.
async fn sync_one<K, S>(
    ctx: &Context,
    app: &App,
    desired: Option<&K>,
    store: &Store<S>,
    options: SyncOptions,
) -> Result<(Option<K>, String, Change), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + SpecDigest,
    S: Resource<DynamicType = ()> + Clone + SpecDigest,
{
    let namespace = app.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let label = format!("{}/{}", K::kind(&()), app.name_any());
    let key = child_key(&namespace, &label);
    let cached_object = cached(store, app);
    let cached = cached_object.as_ref().map(|c| c.meta().clone());
    let Some(desired) = desired else {
        let mut change = Change::None;
        if let Some(existing) = cached
            && owned_by(&existing, app)
            && has_our_labels(&existing)
        {
            prune(&api, &existing, &label).await?;
            ctx.memory.lock().expect("lock").applied.remove(&key);
            change = Change::Pruned;
        }
        return Ok((None, label, change));
    };
    let digest = digest(desired);
    let plan = {
        let mut memory = ctx.memory.lock().expect("lock");
        let last = memory.applied.get_mut(&key);
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
    match plan {
        Plan::UpToDate => Ok((None, label, Change::None)),
        Plan::AwaitCache => Ok((None, label, Change::AwaitingCache)),
        Plan::Apply => {
            let (applied, change) =
                apply(ctx, app, &api, desired, digest, cached, &label, options).await?;
            Ok((applied, label, change))
        }
    }
}

/// How long a child Baseplate just applied may be missing from, or behind in, the cache
/// before a reconcile stops waiting for the watch and applies it again.
pub const CACHE_LAG_ALLOWANCE: Duration = Duration::from_secs(5);

/// What to do with a child the App wants.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// The cache shows the child as Baseplate last applied this same desired object, and
    /// nobody changed it since (status updates by other controllers do not count).
    UpToDate,
    /// The same desired object was applied moments ago and the watch has not shown the
    /// result yet: applying again would only repeat it.
    AwaitCache,
    Apply,
}

/// Decides from what was last applied and what the cache shows, without asking the API server.
pub fn plan(
    last: Option<&AppliedChild>,
    digest: u64,
    cached: Option<&ChildVersion>,
    now: Instant,
) -> Plan {
    let Some(last) = last.filter(|l| l.desired_digest == digest) else {
        return Plan::Apply;
    };
    let lagging =
        !last.seen && now.saturating_duration_since(last.applied_at) < CACHE_LAG_ALLOWANCE;
    let Some(cached) = cached else {
        return if lagging {
            Plan::AwaitCache
        } else {
            Plan::Apply
        };
    };
    let then = &last.version;
    let same_spec = match (
        then.generation,
        cached.generation,
        then.spec_digest,
        cached.spec_digest,
    ) {
        // Generations only grow: a newer one in the cache is someone's change to the spec.
        (Some(a), Some(b), _, _) if b > a => return Plan::Apply,
        (Some(a), Some(b), _, _) => a == b,
        (_, _, Some(a), Some(b)) => a == b,
        _ => then.resource_version.is_some() && then.resource_version == cached.resource_version,
    };
    if same_spec && then.fingerprint == cached.fingerprint {
        Plan::UpToDate
    } else if lagging {
        Plan::AwaitCache
    } else {
        Plan::Apply
    }
}

/// The version of `meta` (with `spec_digest`, see `SpecDigest`) as far as Baseplate's
/// `wanted` metadata goes: labels and annotations others add (a Deployment's revision, say)
/// do not count.
pub fn version_of(
    meta: &ObjectMeta,
    spec_digest: Option<u64>,
    wanted: &ObjectMeta,
) -> ChildVersion {
    ChildVersion {
        resource_version: meta.resource_version.clone(),
        generation: meta.generation,
        spec_digest,
        fingerprint: digest(&(
            only_wanted(&meta.labels, &wanted.labels),
            only_wanted(&meta.annotations, &wanted.annotations),
            &meta.owner_references,
            &meta.deletion_timestamp,
        )),
    }
}

fn only_wanted<'a>(
    have: &'a Option<BTreeMap<String, String>>,
    wanted: &Option<BTreeMap<String, String>>,
) -> Vec<(&'a String, &'a String)> {
    have.iter()
        .flatten()
        .filter(|(key, _)| wanted.as_ref().is_some_and(|w| w.contains_key(*key)))
        .collect()
}

/// The spec of a kind that has a status but no generation, for telling a spec change from a
/// status update. `None` for kinds with a generation or without a status.
pub trait SpecDigest {
    fn spec_digest(&self) -> Option<u64> {
        None
    }
}

impl<K> SpecDigest for PartialObjectMeta<K> {}
impl SpecDigest for ConfigMap {}
impl SpecDigest for Secret {}
impl SpecDigest for Deployment {}
impl SpecDigest for PodDisruptionBudget {}
impl SpecDigest for HorizontalPodAutoscaler {
    fn spec_digest(&self) -> Option<u64> {
        Some(digest(&self.spec))
    }
}
impl SpecDigest for Service {
    fn spec_digest(&self) -> Option<u64> {
        Some(digest(&self.spec))
    }
}
impl SpecDigest for Ingress {}

/// A resourceVersion no stored object has: versions are etcd revisions, which are signed
/// 64-bit. An apply carrying it is a create that never takes anything over: the API server
/// creates a missing object (a create does not check the version) and refuses to change an
/// existing one (409, the version precondition fails). So a child the cache does not show is
/// created without first asking whether some foreign object holds its name.
pub const CREATE_ONLY_VERSION: &str = "18446744073709551615";

#[allow(clippy::too_many_arguments)]
async fn apply<K>(
    ctx: &Context,
    app: &App,
    api: &Api<K>,
    desired: &K,
    digest: u64,
    cached: Option<ObjectMeta>,
    label: &str,
    options: SyncOptions,
) -> Result<(Option<K>, Change), Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + SpecDigest,
{
    let name = app.name_any();
    // Our own children are in the cache (label-filtered); anything else must not be touched.
    let mut existing = cached;
    let params = PatchParams::apply(MANAGER).force();
    let answer = if existing.is_none() {
        let mut create = desired.clone();
        create.meta_mut().resource_version = Some(CREATE_ONLY_VERSION.into());
        match api.patch(&name, &params, &Patch::Apply(&create)).await {
            Err(kube::Error::Api(status)) if status.code == 409 => {
                if options.exists_is_retryable {
                    return Err(Error::AppearedUnseen {
                        child: label.to_string(),
                    });
                }
                // It exists though the cache does not show it: look at whose it is.
                existing = api
                    .get_metadata_opt(&name)
                    .await
                    .map_err(|source| Error::Read {
                        what: label.to_string(),
                        source,
                    })?
                    .map(|m| m.metadata);
                if existing.is_none() {
                    return Err(Error::AppearedUnseen {
                        child: label.to_string(),
                    });
                }
                None
            }
            other => Some(other),
        }
    } else {
        None
    };
    if let Some(meta) = &existing
        && !owned_by(meta, app)
    {
        return Ok((None, Change::Conflict));
    }
    let answer = match answer {
        Some(answer) => answer,
        None => api.patch(&name, &params, &Patch::Apply(desired)).await,
    };
    let applied = match answer {
        Ok(applied) => applied,
        Err(source) if is_transient(&source) => {
            return Err(Error::Apply {
                child: label.to_string(),
                source,
            });
        }
        Err(source) => return Ok((None, Change::Refused(api_message(&source)))),
    };

    let answered = applied.meta();
    let cached_version = existing.as_ref().and_then(|m| m.resource_version.clone());
    let previous = ctx.memory.lock().expect("lock").applied.insert(
        child_key(&app.namespace().unwrap_or_default(), label),
        AppliedChild {
            desired_digest: digest,
            version: version_of(answered, applied.spec_digest(), desired.meta()),
            applied_at: Instant::now(),
            // An apply that changed nothing answers with the version the cache already shows.
            seen: cached_version.is_some() && cached_version == answered.resource_version,
        },
    );
    let known_versions = [
        cached_version,
        previous
            .as_ref()
            .and_then(|p| p.version.resource_version.clone()),
    ];
    let changed = !known_versions.contains(&answered.resource_version);
    let change = if existing.is_none() {
        Change::Created
    } else if changed {
        match previous {
            // Same desired object as last time, yet the apply changed something: someone edited it.
            Some(p) if p.desired_digest == digest => Change::DriftCorrected,
            _ => Change::Updated,
        }
    } else {
        Change::None
    };
    Ok((Some(applied), change))
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
        == Some(labels::MANAGED_BY_VALUE)
}

pub fn child_key(namespace: &str, label: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(generation: Option<i64>, version: &str, seen: bool, at: Instant) -> AppliedChild {
        AppliedChild {
            desired_digest: 7,
            version: meta(generation, version),
            applied_at: at,
            seen,
        }
    }

    fn meta(generation: Option<i64>, version: &str) -> ChildVersion {
        ChildVersion {
            generation,
            resource_version: Some(version.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_child_never_applied_or_wanted_differently_is_applied() {
        let now = Instant::now();
        assert_eq!(plan(None, 7, Some(&meta(None, "5")), now), Plan::Apply);
        let last = applied(None, "5", true, now);
        assert_eq!(
            plan(Some(&last), 8, Some(&meta(None, "5")), now),
            Plan::Apply
        );
    }

    #[test]
    fn the_cache_showing_the_last_apply_means_nothing_to_do() {
        let now = Instant::now();
        let config_map = applied(None, "5", false, now);
        assert_eq!(
            plan(Some(&config_map), 7, Some(&meta(None, "5")), now),
            Plan::UpToDate
        );
        // A Deployment whose status moved on: same generation, new resourceVersion.
        let deployment = applied(Some(3), "5", true, now);
        assert_eq!(
            plan(Some(&deployment), 7, Some(&meta(Some(3), "9")), now),
            Plan::UpToDate
        );
    }

    #[test]
    fn a_cache_behind_a_fresh_apply_is_waited_for_then_no_longer() {
        let applied_at = Instant::now();
        let soon = applied_at + Duration::from_secs(1);
        let late = applied_at + CACHE_LAG_ALLOWANCE;
        let created = applied(None, "5", false, applied_at);
        assert_eq!(plan(Some(&created), 7, None, soon), Plan::AwaitCache);
        assert_eq!(plan(Some(&created), 7, None, late), Plan::Apply);
        let updated = applied(Some(4), "8", false, applied_at);
        assert_eq!(
            plan(Some(&updated), 7, Some(&meta(Some(3), "6")), soon),
            Plan::AwaitCache
        );
        assert_eq!(
            plan(Some(&updated), 7, Some(&meta(Some(3), "6")), late),
            Plan::Apply
        );
    }

    #[test]
    fn once_seen_a_missing_or_different_child_is_someone_elses_change() {
        let applied_at = Instant::now();
        let soon = applied_at + Duration::from_secs(1);
        let seen = applied(None, "5", true, applied_at);
        assert_eq!(plan(Some(&seen), 7, None, soon), Plan::Apply, "deleted");
        assert_eq!(
            plan(Some(&seen), 7, Some(&meta(None, "6")), soon),
            Plan::Apply,
            "edited"
        );
    }

    #[test]
    fn a_newer_generation_is_an_edit_even_before_the_apply_was_seen() {
        let applied_at = Instant::now();
        let last = applied(Some(3), "5", false, applied_at);
        assert_eq!(
            plan(Some(&last), 7, Some(&meta(Some(4), "6")), applied_at),
            Plan::Apply
        );
    }

    #[test]
    fn changed_labels_or_owners_are_applied_again() {
        let now = Instant::now();
        let last = applied(Some(3), "5", true, now);
        let mut relabelled = meta(Some(3), "6");
        relabelled.fingerprint = 99;
        assert_eq!(plan(Some(&last), 7, Some(&relabelled), now), Plan::Apply);
    }

    #[test]
    fn a_status_update_of_a_kind_without_generation_is_not_a_change() {
        let now = Instant::now();
        let mut autoscaler = applied(None, "5", true, now);
        autoscaler.version.spec_digest = Some(11);
        let mut status_moved = meta(None, "9");
        status_moved.spec_digest = Some(11);
        assert_eq!(
            plan(Some(&autoscaler), 7, Some(&status_moved), now),
            Plan::UpToDate
        );
        let mut spec_edited = meta(None, "10");
        spec_edited.spec_digest = Some(12);
        assert_eq!(
            plan(Some(&autoscaler), 7, Some(&spec_edited), now),
            Plan::Apply
        );
    }

    #[test]
    fn only_the_labels_and_annotations_baseplate_sets_count() {
        let wanted = ObjectMeta {
            labels: Some([("app".to_string(), "web".to_string())].into()),
            annotations: Some([("team".to_string(), "a".to_string())].into()),
            ..Default::default()
        };
        let mut live = wanted.clone();
        let before = version_of(&live, None, &wanted);
        // The Deployment controller records the revision in an annotation of its own.
        live.annotations
            .as_mut()
            .unwrap()
            .insert("deployment.kubernetes.io/revision".into(), "2".into());
        assert_eq!(version_of(&live, None, &wanted), before);
        live.labels
            .as_mut()
            .unwrap()
            .insert("app".into(), "edited".into());
        assert_ne!(version_of(&live, None, &wanted), before);
    }
}
