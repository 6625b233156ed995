//! What every reconcile shares: the client, the caches, metrics and a little memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baseplate_crd::{App, Platform};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};

use crate::metrics::Metrics;

/// Metadata-only caches of Baseplate's children (label-filtered), so memory stays small: the
/// operator needs to know what exists and who owns it, not the objects' contents.
#[derive(Clone)]
pub struct ChildStores {
    pub config_maps: Store<PartialObjectMeta<ConfigMap>>,
    pub secrets: Store<PartialObjectMeta<Secret>>,
    /// Deployments without their pod template: metadata, replicas and rollout status.
    pub deployments: Store<Deployment>,
    pub services: Store<PartialObjectMeta<Service>>,
    pub horizontal_pod_autoscalers: Store<PartialObjectMeta<HorizontalPodAutoscaler>>,
    pub pod_disruption_budgets: Store<PartialObjectMeta<PodDisruptionBudget>>,
    pub ingresses: Store<PartialObjectMeta<Ingress>>,
}

/// What Baseplate last applied to one child: the digest of the desired object and the
/// object the API server answered with. Tells drift from an App change, and lets a reconcile
/// skip applies the cache shows are unneeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedChild {
    pub desired_digest: u64,
    pub resource_version: Option<String>,
    pub generation: Option<i64>,
    /// Labels, annotations and owners as the apply left them.
    pub fingerprint: u64,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// How often an App is reconciled with nothing changing (each App gets up to 10% jitter).
    pub resync: Duration,
}

pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub apps: Store<DeserializeGuard<App>>,
    pub platforms: Store<Platform>,
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
    pub children: ChildStores,
    pub settings: Settings,
    pub applied: Mutex<HashMap<String, AppliedChild>>,
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
        // Keys are `namespace/Kind/name`, and every child has its App's name.
        self.applied.lock().expect("lock").retain(|key, _| {
            let mut parts = key.splitn(3, '/');
            let (namespace, _kind, name) = (parts.next(), parts.next(), parts.next());
            live.contains(&(
                namespace.unwrap_or_default().to_string(),
                name.unwrap_or_default().to_string(),
            ))
        });
        self.failures.lock().expect("lock").retain(|app, _| {
            live.contains(&(app.namespace.clone().unwrap_or_default(), app.name.clone()))
        });
    }
}

pub fn now() -> Time {
    Time(jiff::Timestamp::now())
}
