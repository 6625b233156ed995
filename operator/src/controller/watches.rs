//! The watches the controller runs and the caches they fill, each cached object slimmed to
//! what is read from the cache.

use std::time::Duration;

use baseplate_crd::{App, Platform, labels};
use futures::{Stream, StreamExt, future};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, PredicateConfig, WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use super::context::{self, ChildStores, WorkloadStores};
use super::pod_health;
use super::revisions;

type AppController = Controller<DeserializeGuard<App>>;

/// Every App, as far as it parses (an App that does not is still reconciled, to say so).
pub fn apps(
    client: &Client,
) -> (
    Store<DeserializeGuard<App>>,
    impl Stream<Item = Result<DeserializeGuard<App>, watcher::Error>> + Send + 'static,
) {
    let (store, writer) = reflector::store::<DeserializeGuard<App>>();
    let stream = reflector::reflector(
        writer,
        watcher(
            Api::<DeserializeGuard<App>>::all(client.clone()),
            watcher::Config::default().any_semantic(),
        )
        .default_backoff()
        .modify(slim_app),
    )
    .applied_objects();
    (store, stream)
}

/// Apps are cached without what is never read from the cache and can outweigh the spec:
/// managed fields, and the copy of the whole object `kubectl apply` keeps in an annotation.
fn slim_app(app: &mut DeserializeGuard<App>) {
    let meta = app.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Every Platform; a deleted one arrives with a deletion timestamp (see [`deleted_marked`]).
pub fn platforms(
    client: &Client,
) -> (
    Store<Platform>,
    impl Stream<Item = Result<Platform, watcher::Error>> + Send + 'static,
) {
    let (store, writer) = reflector::store::<Platform>();
    let stream = reflector::reflector(
        writer,
        watcher(
            Api::<Platform>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff(),
    )
    .filter_map(|event| future::ready(deleted_marked(event)));
    (store, stream)
}

/// The revision history of staged Platforms: ControllerRevisions in the operator's namespace
/// that carry [`revisions::PLATFORM_LABEL`]. The future keeps the cache filled.
pub fn platform_revisions(
    client: &Client,
    namespace: &str,
) -> (
    Store<ControllerRevision>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (store, writer) = reflector::store::<ControllerRevision>();
    let updates = reflector::reflector(
        writer,
        watcher(
            Api::<ControllerRevision>::namespaced(client.clone(), namespace),
            watcher::Config::default().labels(revisions::PLATFORM_LABEL),
        )
        .default_backoff(),
    )
    .for_each(|_| future::ready(()));
    (store, updates)
}

/// Every namespace's metadata: its labels select Platforms.
pub fn namespaces(
    client: &Client,
) -> (
    Store<PartialObjectMeta<Namespace>>,
    impl Stream<Item = Result<PartialObjectMeta<Namespace>, watcher::Error>> + Send + 'static,
) {
    let (store, writer) = reflector::store::<PartialObjectMeta<Namespace>>();
    let stream = reflector::reflector(
        writer,
        watcher(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff(),
    )
    .touched_objects();
    (store, stream)
}

/// Watches every child kind for the controller (a change to a child reconciles its owner)
/// and returns their caches. Each cache comes from [`owned`], which also hands its watch to
/// the controller, so no cache goes unwatched; `ChildStores` is built without `..`, so no
/// kind goes uncached.
pub fn own_children(controller: AppController, client: &Client) -> (AppController, ChildStores) {
    let (controller, config_maps) =
        owned::<PartialObjectMeta<ConfigMap>>(controller, client, |_| {});
    let (controller, secrets) = owned::<PartialObjectMeta<Secret>>(controller, client, |_| {});
    let (controller, jobs) = owned(controller, client, slim_job);
    let (controller, deployments) = owned(controller, client, slim_deployment);
    let (controller, cron_jobs) = owned(controller, client, slim_cron_job);
    let (controller, services) = owned::<PartialObjectMeta<Service>>(controller, client, |_| {});
    let (controller, horizontal_pod_autoscalers) =
        owned::<PartialObjectMeta<HorizontalPodAutoscaler>>(controller, client, |_| {});
    let (controller, pod_disruption_budgets) =
        owned::<PartialObjectMeta<PodDisruptionBudget>>(controller, client, |_| {});
    let (controller, ingresses) = owned::<PartialObjectMeta<Ingress>>(controller, client, |_| {});
    let stores = ChildStores {
        config_maps,
        secrets,
        jobs,
        deployments,
        services,
        horizontal_pod_autoscalers,
        pod_disruption_budgets,
        ingresses,
        cron_jobs,
    };
    (controller, stores)
}

/// A label-filtered reflector for one child kind, caching what `slim` leaves of each object
/// and, of its managed fields, only the set Baseplate's apply owns (which tells whether the
/// child is as Baseplate applied it), its events handed to the controller as owned objects.
/// Most kinds are cached as metadata only (`PartialObjectMeta`): the operator needs to know
/// what exists, who owns it and whether it is up to date.
fn owned<K>(
    controller: AppController,
    client: &Client,
    slim: fn(&mut K),
) -> (AppController, Store<K>)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = Api::all(client.clone());
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(api, managed_by_baseplate())
            .default_backoff()
            .modify(move |object| {
                super::apply::keep_own_managed_fields(object.meta_mut());
                slim(object);
            }),
    )
    .touched_objects();
    (controller.owns_stream(stream), store)
}

/// Only what Baseplate made: its children, and the ReplicaSets and pods made from its pod
/// templates, which carry the same labels.
fn managed_by_baseplate() -> watcher::Config {
    watcher::Config::default().labels(&format!(
        "{}={}",
        labels::MANAGED_BY,
        labels::MANAGED_BY_VALUE
    ))
}

/// The ReplicaSets' and pods' caches, and the Apps whose pods changed in a way diagnosis
/// sees. A pod cache rather than reads on demand: the watch is needed anyway (a pod's new
/// state must reconcile its App within seconds), and the cache costs little memory once
/// slimmed (see BENCHMARKS.md). The ReplicaSets are only kept up to date, never a trigger:
/// the Deployment's own status moves whenever a new one matters.
pub fn workload(
    client: &Client,
) -> (
    WorkloadStores,
    impl Stream<Item = Result<Pod, watcher::Error>> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
) {
    let (replica_sets, rs_writer) = reflector::store::<PartialObjectMeta<ReplicaSet>>();
    let replica_set_updates = reflector::reflector(
        rs_writer,
        watcher(
            Api::<PartialObjectMeta<ReplicaSet>>::all(client.clone()),
            managed_by_baseplate(),
        )
        .default_backoff()
        .modify(slim_replica_set),
    )
    .for_each(|_| future::ready(()));

    let (pods, pod_writer) = reflector::store::<Pod>();
    let pod_changes = reflector::reflector(
        pod_writer,
        watcher(Api::<Pod>::all(client.clone()), managed_by_baseplate())
            .default_backoff()
            .modify(pod_health::slim),
    )
    .touched_objects()
    .predicate_filter(pod_fingerprint, PredicateConfig::default());
    let stores = WorkloadStores { replica_sets, pods };
    (stores, pod_changes, replica_set_updates)
}

/// What a cached pod says, for telling a change diagnosis sees from one it does not (the
/// kubelet's heartbeat-like updates of conditions and addresses were slimmed away).
fn pod_fingerprint(pod: &Pod) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_vec(&(&pod.status, &pod.metadata.deletion_timestamp))
        .ok()?
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// The App a pod belongs to, by its label.
pub fn app_of(pod: &Pod) -> Option<ObjectRef<DeserializeGuard<App>>> {
    let app = pod.metadata.labels.as_ref()?.get(labels::APP)?;
    Some(ObjectRef::new(app).within(pod.metadata.namespace.as_deref()?))
}

/// A ReplicaSet's owner and revision are all that is read: which is a Deployment's newest.
fn slim_replica_set(replica_set: &mut PartialObjectMeta<ReplicaSet>) {
    let meta = std::mem::take(&mut replica_set.metadata);
    let revision = meta
        .annotations
        .and_then(|mut a| a.remove(super::rollout::REVISION))
        .map(|revision| {
            std::collections::BTreeMap::from([(super::rollout::REVISION.to_string(), revision)])
        });
    replica_set.metadata = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        annotations: revision,
        owner_references: super::owner::controller_only(meta.owner_references),
        ..Default::default()
    };
}

/// Deployments are cached with their status (for the App's status) but without the pod
/// template, which is most of their size and never read from the cache.
fn slim_deployment(deployment: &mut Deployment) {
    if let Some(spec) = deployment.spec.as_mut() {
        spec.template = Default::default();
    }
}

/// Jobs and CronJobs are cached with their status (whether the migration succeeded, when the
/// last runs were) but without their pod template. Only Jobs the operator makes itself carry
/// the managed-by label: a CronJob's runs do not, so they are not cached at all.
fn slim_job(job: &mut Job) {
    if let Some(spec) = job.spec.as_mut() {
        spec.template = Default::default();
    }
}

fn slim_cron_job(cron_job: &mut CronJob) {
    if let Some(spec) = cron_job.spec.as_mut() {
        spec.job_template = Default::default();
    }
}

/// `Store::wait_until_ready` that cannot miss its wake-up. kube-runtime's ready signal wakes
/// only the task that polled it last, and the Controller waits on the Apps store too, so a
/// single wait here could sleep forever (and /readyz answer 503) once the Controller polled
/// after it. Asking again every half second sees the signal whoever was woken.
pub async fn filled<K>(store: &Store<K>) -> bool
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        let wait = tokio::time::timeout(Duration::from_millis(500), store.wait_until_ready());
        if let Ok(result) = wait.await {
            return result.is_ok();
        }
    }
}

/// Platform watch events as objects; a deleted Platform carries a deletion timestamp so its
/// trigger can tell a deletion from an unchanged relist.
fn deleted_marked(
    event: Result<watcher::Event<Platform>, watcher::Error>,
) -> Option<Result<Platform, watcher::Error>> {
    match event {
        Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => Some(Ok(p)),
        Ok(watcher::Event::Delete(mut p)) => {
            p.metadata
                .deletion_timestamp
                .get_or_insert_with(context::now);
            Some(Ok(p))
        }
        Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
        Err(e) => Some(Err(e)),
    }
}
