//! Writers of the child caches, standing in for the watches between two reconciles.

use baseplate_crd::ChildKind;
use baseplate_operator::controller::context::ChildStores;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use kube::Resource;
use kube::core::{PartialObjectMeta, PartialObjectMetaExt};
use kube::runtime::reflector;
use kube::runtime::watcher;
use serde_json::Value;

use super::fake_api::{Call, Cluster, answer_apply};

/// Writers of every child cache, standing in for the watches.
pub struct Watches {
    pub config_maps:
        reflector::store::Writer<PartialObjectMeta<k8s_openapi::api::core::v1::ConfigMap>>,
    pub secrets: reflector::store::Writer<PartialObjectMeta<Secret>>,
    pub jobs: reflector::store::Writer<Job>,
    pub deployments: reflector::store::Writer<Deployment>,
    pub services: reflector::store::Writer<PartialObjectMeta<k8s_openapi::api::core::v1::Service>>,
    pub horizontal_pod_autoscalers: reflector::store::Writer<
        PartialObjectMeta<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>,
    >,
    pub pod_disruption_budgets: reflector::store::Writer<
        PartialObjectMeta<k8s_openapi::api::policy::v1::PodDisruptionBudget>,
    >,
    pub ingresses:
        reflector::store::Writer<PartialObjectMeta<k8s_openapi::api::networking::v1::Ingress>>,
    pub cron_jobs: reflector::store::Writer<CronJob>,
}

pub fn watched_caches() -> (ChildStores, Watches) {
    let (config_maps, config_map_writer) = reflector::store();
    let (secrets, secret_writer) = reflector::store();
    let (jobs, job_writer) = reflector::store();
    let (deployments, deployment_writer) = reflector::store();
    let (services, service_writer) = reflector::store();
    let (hpas, hpa_writer) = reflector::store();
    let (pdbs, pdb_writer) = reflector::store();
    let (ingresses, ingress_writer) = reflector::store();
    let (cron_jobs, cron_job_writer) = reflector::store();
    (
        ChildStores {
            config_maps,
            secrets,
            jobs,
            deployments,
            services,
            horizontal_pod_autoscalers: hpas,
            pod_disruption_budgets: pdbs,
            ingresses,
            cron_jobs,
        },
        Watches {
            config_maps: config_map_writer,
            secrets: secret_writer,
            jobs: job_writer,
            deployments: deployment_writer,
            services: service_writer,
            horizontal_pod_autoscalers: hpa_writer,
            pod_disruption_budgets: pdb_writer,
            ingresses: ingress_writer,
            cron_jobs: cron_job_writer,
        },
    )
}

impl Watches {
    /// Feeds the caches what the applies wrote, as the watches would.
    pub fn observe(&mut self, calls: &[Call], cluster: &Cluster) {
        fn meta<K: Resource<DynamicType = ()>>(
            object: &Value,
        ) -> watcher::Event<PartialObjectMeta<K>> {
            let meta: ObjectMeta = serde_json::from_value(object["metadata"].clone()).unwrap();
            watcher::Event::Apply(meta.into_response_partial())
        }
        fn whole<K: serde::de::DeserializeOwned>(object: Value) -> watcher::Event<K> {
            let mut object = object;
            object["status"] = Value::Null;
            watcher::Event::Apply(serde_json::from_value(object).unwrap())
        }
        for call in calls.iter().filter(|c| {
            c.method == "PATCH" && !c.path.ends_with("/status") && !c.path.contains("/events")
        }) {
            let object = answer_apply(&call.path, call.body.clone(), cluster);
            let kind = object["kind"].as_str().unwrap_or_default();
            // Exhaustive: a new child kind needs its cache fed here.
            match ChildKind::from_kind(kind).unwrap_or_else(|| panic!("unexpected apply of {kind}"))
            {
                ChildKind::ConfigMap => self.config_maps.apply_watcher_event(&meta(&object)),
                ChildKind::Secret => self.secrets.apply_watcher_event(&meta(&object)),
                ChildKind::Job => self.jobs.apply_watcher_event(&whole(object)),
                ChildKind::CronJob => self.cron_jobs.apply_watcher_event(&whole(object)),
                ChildKind::Deployment => self.deployments.apply_watcher_event(
                    &watcher::Event::Apply(serde_json::from_value(object).unwrap()),
                ),
                ChildKind::Service => self.services.apply_watcher_event(&meta(&object)),
                ChildKind::HorizontalPodAutoscaler => self
                    .horizontal_pod_autoscalers
                    .apply_watcher_event(&meta(&object)),
                ChildKind::PodDisruptionBudget => self
                    .pod_disruption_budgets
                    .apply_watcher_event(&meta(&object)),
                ChildKind::Ingress => self.ingresses.apply_watcher_event(&meta(&object)),
            }
        }
    }
}

/// The cached Deployment after the first reconcile, changed by `edit`.
pub fn edited_deployment(
    watches: &Watches,
    edit: impl FnOnce(&mut Deployment),
) -> watcher::Event<Deployment> {
    let mut deployment = watches
        .deployments
        .as_reader()
        .get(&reflector::ObjectRef::new("my-application").within("shop"))
        .unwrap()
        .as_ref()
        .clone();
    edit(&mut deployment);
    watcher::Event::Apply(deployment)
}

pub fn cached_autoscaler(
    watches: &Watches,
) -> PartialObjectMeta<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler> {
    watches
        .horizontal_pod_autoscalers
        .as_reader()
        .get(&reflector::ObjectRef::new("my-application").within("shop"))
        .unwrap()
        .as_ref()
        .clone()
}

/// `meta` after another field manager (`kubectl edit`) changed the field at `path` (FieldsV1
/// keys, such as `["f:spec", "f:minReadySeconds"]`): the field leaves Baseplate's set.
pub fn taken_over(meta: &mut ObjectMeta, path: &[&str]) {
    let entries = meta.managed_fields.get_or_insert_default();
    let own = entries
        .iter_mut()
        .find(|e| e.manager.as_deref() == Some("baseplate"))
        .expect("Baseplate's apply in the managed fields");
    let mut node = &mut own.fields_v1.as_mut().expect("a field set").0;
    let (last, parents) = path.split_last().unwrap();
    for key in parents {
        node = &mut node[*key];
    }
    assert!(
        node.as_object_mut().unwrap().remove(*last).is_some(),
        "Baseplate owned {path:?}"
    );
    entries.push(ManagedFieldsEntry {
        manager: Some("kubectl-edit".into()),
        operation: Some("Update".into()),
        ..Default::default()
    });
}
