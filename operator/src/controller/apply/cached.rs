//! Where each child type is cached, and how a cached copy tells a spec change from a status
//! update. The applier asks for `K: CachedChild`, so a child type without a cache does not
//! compile.

use baseplate_crd::ChildObject;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Resource;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;

use super::plan::digest;
use crate::controller::context::ChildStores;

/// A child type and its cache among the [`ChildStores`].
pub trait CachedChild: ChildObject + SpecDigest {
    /// What the cache holds of it: its metadata only, or a slimmed copy.
    type Cached: Resource<DynamicType = ()> + Clone + SpecDigest + 'static;
    fn store(stores: &ChildStores) -> &Store<Self::Cached>;
}

macro_rules! cached_children {
    ($($ty:ty => $cached:ty, $field:ident;)*) => {
        $(impl CachedChild for $ty {
            type Cached = $cached;
            fn store(stores: &ChildStores) -> &Store<$cached> {
                &stores.$field
            }
        })*
    };
}

cached_children! {
    ConfigMap => PartialObjectMeta<ConfigMap>, config_maps;
    Secret => PartialObjectMeta<Secret>, secrets;
    Job => Job, jobs;
    Deployment => Deployment, deployments;
    CronJob => CronJob, cron_jobs;
    Service => Service, services;
    HorizontalPodAutoscaler => HorizontalPodAutoscaler, horizontal_pod_autoscalers;
    PodDisruptionBudget => PartialObjectMeta<PodDisruptionBudget>, pod_disruption_budgets;
    Ingress => PartialObjectMeta<Ingress>, ingresses;
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
impl SpecDigest for Job {}
impl SpecDigest for CronJob {}
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
