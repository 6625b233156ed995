//! Where each child type is cached. The applier asks for `K: CachedChild`, so a child type
//! without a cache does not compile.

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

use crate::controller::context::ChildStores;

/// A child type and its cache among the [`ChildStores`].
pub trait CachedChild: ChildObject {
    /// What the cache holds of it: its metadata only, or a slimmed copy.
    type Cached: Resource<DynamicType = ()> + Clone + 'static;
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
    Service => PartialObjectMeta<Service>, services;
    HorizontalPodAutoscaler => PartialObjectMeta<HorizontalPodAutoscaler>, horizontal_pod_autoscalers;
    PodDisruptionBudget => PartialObjectMeta<PodDisruptionBudget>, pod_disruption_budgets;
    Ingress => PartialObjectMeta<Ingress>, ingresses;
}
