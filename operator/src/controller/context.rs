//! What every reconcile shares: the client, the caches, metrics and a little memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use baseplate_crd::{App, ChildKind, ChildRef, Platform, SecretState};
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};

use super::event_queue::EventQueue;
use crate::metrics::Metrics;

/// Label-filtered caches of Baseplate's children, mostly metadata only, so memory stays
/// small: the operator needs to know what exists, who owns it and whether it is as Baseplate
/// applied it (its digest annotation and Baseplate's managed fields), not the objects' contents.
/// One field per [`ChildKind`]: [`ChildStores::meta`] matches on every kind, so a new kind
/// does not compile without its cache, and `watches::own_children` cannot fill this struct
/// without watching each one.
#[derive(Clone)]
pub struct ChildStores {
    pub config_maps: Store<PartialObjectMeta<ConfigMap>>,
    pub secrets: Store<PartialObjectMeta<Secret>>,
    /// Migration Jobs without their pod template: metadata and status (did it succeed?).
    pub jobs: Store<Job>,
    /// Deployments without their pod template: metadata, replicas and rollout status.
    pub deployments: Store<Deployment>,
    pub services: Store<PartialObjectMeta<Service>>,
    pub horizontal_pod_autoscalers: Store<PartialObjectMeta<HorizontalPodAutoscaler>>,
    pub pod_disruption_budgets: Store<PartialObjectMeta<PodDisruptionBudget>>,
    pub ingresses: Store<PartialObjectMeta<Ingress>>,
    /// CronJobs without their job template: metadata and status (the last runs).
    pub cron_jobs: Store<CronJob>,
}

impl ChildStores {
    /// The cached metadata of `child`, whatever its kind.
    pub fn meta(&self, child: &ChildRef) -> Option<ObjectMeta> {
        match child.kind {
            ChildKind::ConfigMap => meta_of(&self.config_maps, child),
            ChildKind::Secret => meta_of(&self.secrets, child),
            ChildKind::Job => meta_of(&self.jobs, child),
            ChildKind::Deployment => meta_of(&self.deployments, child),
            ChildKind::CronJob => meta_of(&self.cron_jobs, child),
            ChildKind::Service => meta_of(&self.services, child),
            ChildKind::HorizontalPodAutoscaler => meta_of(&self.horizontal_pod_autoscalers, child),
            ChildKind::PodDisruptionBudget => meta_of(&self.pod_disruption_budgets, child),
            ChildKind::Ingress => meta_of(&self.ingresses, child),
        }
    }
}

/// Caches of what the App's Deployment makes, for telling why its pods do not start: not
/// children (Baseplate never writes them), label-filtered like them (the pods and ReplicaSets
/// carry the pod template's labels) and slimmed to what is read.
#[derive(Clone)]
pub struct WorkloadStores {
    /// Metadata only: which ReplicaSet of a Deployment is the newest (owner and revision).
    pub replica_sets: Store<PartialObjectMeta<ReplicaSet>>,
    /// What `pod_health::slim` keeps of each pod.
    pub pods: Store<Pod>,
}

/// The cached object `child` in `store`, the cache of its kind.
pub fn cached<S: Resource<DynamicType = ()> + Clone>(
    store: &Store<S>,
    child: &ChildRef,
) -> Option<Arc<S>> {
    store.get(&ObjectRef::new(&child.name).within(&child.namespace))
}

fn meta_of<S: Resource<DynamicType = ()> + Clone>(
    store: &Store<S>,
    child: &ChildRef,
) -> Option<ObjectMeta> {
    cached(store, child).map(|object| object.meta().clone())
}

/// What this process last applied to one child: the digest of the desired object and the
/// resourceVersion the API server answered with. Tells the watch running behind an apply from
/// someone's change, and drift from an App change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedChild {
    /// The App the child is of (a Job's or CronJob's name is not the App's).
    pub app: String,
    pub desired_digest: u64,
    /// The child's resourceVersion as the API server answered the apply.
    pub resource_version: Option<String>,
    /// Its spec generation then, for kinds that have one.
    pub generation: Option<i64>,
    pub applied_at: Instant,
    /// The cache has shown this apply's result since: from then on, a difference in the cache
    /// is a change someone made, not the watch running behind.
    pub seen: bool,
}

/// The App's Secret as last read or written, so that reconciles need not read it again while
/// the cache shows the same resourceVersion. Values stay in this process's memory only, as
/// they would in any Secret cache; they are never logged (see `SecretState`'s Debug).
#[derive(Clone, Debug)]
pub struct RememberedSecret {
    pub resource_version: Option<String>,
    pub values: SecretState,
    pub read_at: Instant,
}

/// What the operator remembers between reconciles, by child.
#[derive(Default)]
pub struct Memory {
    pub applied: HashMap<ChildRef, AppliedChild>,
    pub secrets: HashMap<ChildRef, RememberedSecret>,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// How often an App is reconciled with nothing changing (each App gets up to 10% jitter).
    pub resync: Duration,
    /// Where the revision history of staged Platforms is kept: the operator's own namespace.
    pub operator_namespace: String,
}

pub struct Context {
    pub client: Client,
    pub events: EventQueue,
    pub metrics: Metrics,
    pub apps: Store<DeserializeGuard<App>>,
    pub platforms: Store<Platform>,
    /// The ControllerRevisions of staged Platforms, in the operator's namespace.
    pub revisions: Store<ControllerRevision>,
    /// Wakes the staged-rollout loop: an App's status or a Platform changed.
    pub rollouts: tokio::sync::Notify,
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
    pub children: ChildStores,
    pub workload: WorkloadStores,
    pub settings: Settings,
    pub memory: Mutex<Memory>,
    /// Set once every Secret Baseplate made was listed into `memory` (see
    /// `observe::secret`): after a start, one LIST instead of a GET per App.
    pub secrets_listed: tokio::sync::OnceCell<()>,
    /// Consecutive transient failures per App, for exponential backoff.
    pub failures: Mutex<HashMap<ObjectRef<DeserializeGuard<App>>, u32>>,
    pub clock: fn() -> Time,
    pub generate_secret: fn() -> String,
}

impl Context {
    /// Drops what is remembered about Apps that no longer exist, so memory follows the
    /// number of Apps rather than every App ever seen.
    pub fn forget_apps_except(&self, apps: &[Arc<DeserializeGuard<App>>]) {
        let live: HashSet<(String, String)> = apps
            .iter()
            .map(|a| (a.namespace().unwrap_or_default(), a.name_any()))
            .collect();
        let live_app = |namespace: &str, app: &str| live.contains(&(namespace.into(), app.into()));
        let mut memory = self.memory.lock().expect("lock");
        memory
            .applied
            .retain(|child, applied| live_app(&child.namespace, &applied.app));
        // The Secret has its App's name.
        memory
            .secrets
            .retain(|child, _| live_app(&child.namespace, &child.name));
        drop(memory);
        self.failures.lock().expect("lock").retain(|app, _| {
            live.contains(&(app.namespace.clone().unwrap_or_default(), app.name.clone()))
        });
    }
}

pub fn now() -> Time {
    Time(jiff::Timestamp::now())
}
