//! From one App, its Platforms and its preserved secret state to the desired children.
//!
//! Pure: no client, no clock, no randomness. Same input, same bytes.

mod batch;
mod config;
mod network;
mod scaling;
mod workload;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::Serialize;

use crate::app::App;
use crate::child::{ChildObject, ChildRef};
use crate::error::RenderError;
use crate::labels;
use crate::policy;
use crate::resolve;
use crate::secrets::SecretState;
use crate::select::EffectivePlatform;
use crate::settings::Settings;

/// The desired children of one App. The applier destructures it without `..`, so a kind added
/// here that is not applied and pruned there fails to compile.
#[derive(Clone, Debug, PartialEq)]
pub struct Children {
    pub config_map: ConfigMap,
    pub secret: Secret,
    /// The migration Job of the current version, when the App has `migrate`.
    pub migration_job: Option<Job>,
    /// `None` for a batch-only App.
    pub deployment: Option<Deployment>,
    /// One per entry of `cronJobs`.
    pub cron_jobs: Vec<CronJob>,
    pub service: Option<Service>,
    pub horizontal_pod_autoscaler: Option<HorizontalPodAutoscaler>,
    pub pod_disruption_budget: Option<PodDisruptionBudget>,
    pub ingress: Option<Ingress>,
}

impl Children {
    /// Every present child as JSON, in apply order (config before the workload that reads it).
    pub fn to_values(&self) -> Vec<serde_json::Value> {
        let Children {
            config_map,
            secret,
            migration_job,
            deployment,
            cron_jobs,
            service,
            horizontal_pod_autoscaler,
            pod_disruption_budget,
            ingress,
        } = self;
        let mut values = vec![to_value(config_map), to_value(secret)];
        values.extend(migration_job.as_ref().map(to_value));
        values.extend(deployment.as_ref().map(to_value));
        values.extend(cron_jobs.iter().map(to_value));
        values.extend(service.as_ref().map(to_value));
        values.extend(horizontal_pod_autoscaler.as_ref().map(to_value));
        values.extend(pod_disruption_budget.as_ref().map(to_value));
        values.extend(ingress.as_ref().map(to_value));
        values
    }

    /// Every present child, in apply order.
    pub fn refs(&self) -> Vec<ChildRef> {
        let Children {
            config_map,
            secret,
            migration_job,
            deployment,
            cron_jobs,
            service,
            horizontal_pod_autoscaler,
            pod_disruption_budget,
            ingress,
        } = self;
        let mut refs = vec![child_ref(config_map), child_ref(secret)];
        refs.extend(migration_job.as_ref().map(child_ref));
        refs.extend(deployment.as_ref().map(child_ref));
        refs.extend(cron_jobs.iter().map(child_ref));
        refs.extend(service.as_ref().map(child_ref));
        refs.extend(horizontal_pod_autoscaler.as_ref().map(child_ref));
        refs.extend(pod_disruption_budget.as_ref().map(child_ref));
        refs.extend(ingress.as_ref().map(child_ref));
        refs
    }

    /// `Kind/name` of every present child, in apply order.
    pub fn names(&self) -> Vec<String> {
        self.refs().iter().map(ChildRef::to_string).collect()
    }
}

fn child_ref<K: ChildObject + Resource<DynamicType = ()>>(object: &K) -> ChildRef {
    ChildRef {
        kind: K::CHILD_KIND,
        namespace: object.meta().namespace.clone().unwrap_or_default(),
        name: object.meta().name.clone().unwrap_or_default(),
    }
}

fn to_value<T: Serialize>(object: &T) -> serde_json::Value {
    serde_json::to_value(object).expect("Kubernetes objects serialize to JSON")
}

/// The whole pipeline: resolve the layers, check the guardrails, build every child.
pub fn render(
    app: &App,
    platform: &EffectivePlatform,
    secrets: &SecretState,
) -> Result<Children, RenderError> {
    let settings = resolve::resolve(app, platform)?;
    let violations = policy::check(&app.spec, &settings, platform);
    if !violations.is_empty() {
        return Err(RenderError::PolicyViolation(violations));
    }
    build(app, &settings, secrets)
}

/// Builds the children from already-resolved settings.
pub fn build(
    app: &App,
    settings: &Settings,
    secrets: &SecretState,
) -> Result<Children, RenderError> {
    let meta = ChildMeta::new(app, settings);
    let config_map = config::config_map(app, &meta);
    let secret = config::secret(app, secrets, &meta)?;
    let config_hash = config::config_digest(&config_map);
    let secret_hash = secrets.digest(&app.spec);
    let version = batch::migration_version(app, &config_hash, &secret_hash);
    let migration_job = batch::migration_job(app, settings, &meta, &version);
    let cron_jobs = batch::cron_jobs(app, settings, &meta);
    if settings.batch_only {
        return Ok(Children {
            config_map,
            secret,
            migration_job,
            deployment: None,
            cron_jobs,
            service: None,
            horizontal_pod_autoscaler: None,
            pod_disruption_budget: None,
            ingress: None,
        });
    }
    let deployment = workload::deployment(app, settings, &meta, &config_hash, &secret_hash);
    let service = network::service(app, &meta);
    let ingress = service
        .as_ref()
        .and_then(|_| network::ingress(settings, &meta));
    Ok(Children {
        config_map,
        secret,
        migration_job,
        deployment: Some(deployment),
        cron_jobs,
        service,
        horizontal_pod_autoscaler: scaling::horizontal_pod_autoscaler(settings, &meta),
        pod_disruption_budget: scaling::pod_disruption_budget(settings, &meta),
        ingress,
    })
}

/// What every child's metadata shares.
struct ChildMeta {
    name: String,
    namespace: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    owner: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
}

impl ChildMeta {
    fn new(app: &App, settings: &Settings) -> Self {
        Self {
            name: settings.name.clone(),
            namespace: settings.namespace.clone(),
            labels: labels::child_labels(&settings.name, &settings.labels),
            annotations: settings.annotations.clone(),
            // An App read from a file has no UID yet; the operator's always does.
            owner: app
                .meta()
                .uid
                .as_ref()
                .and_then(|_| app.controller_owner_ref(&())),
        }
    }

    fn object_meta(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name.clone()),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels.clone()),
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
            owner_references: self.owner.clone().map(|o| vec![o]),
            ..Default::default()
        }
    }

    /// The metadata of a child with a name of its own (a Job, a CronJob) and a component label.
    fn object_meta_named(&self, name: &str, component: &str) -> ObjectMeta {
        let mut meta = self.object_meta();
        meta.name = Some(name.to_string());
        meta.labels
            .get_or_insert_with(BTreeMap::new)
            .insert(labels::COMPONENT.into(), component.into());
        meta
    }

    fn selector(&self) -> BTreeMap<String, String> {
        labels::selector(&self.name)
    }
}
