//! The App, the caches as the watches would fill them, and readers of what the reconciler
//! requested.

use std::collections::BTreeMap;

use baseplate_crd::{App, AppStatus};
use baseplate_operator::controller::context::ChildStores;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::Resource;
use kube::core::{PartialObjectMeta, PartialObjectMetaExt};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;

use super::fake_api::Call;

pub const APP_UID: &str = "app-uid-1";

pub fn store_of<K>(objects: Vec<K>) -> Store<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, mut writer) = reflector::store();
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }
    reader
}

/// Metadata of a child Baseplate owns, as the cache would hold it.
pub fn owned_meta<K: Resource<DynamicType = ()>>(
    name: &str,
    version: &str,
) -> PartialObjectMeta<K> {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("shop".into()),
        uid: Some(format!("uid-{}-{name}", K::kind(&()))),
        resource_version: Some(version.into()),
        labels: Some(BTreeMap::from([
            (
                "app.kubernetes.io/managed-by".to_string(),
                "baseplate".to_string(),
            ),
            ("baseplate.dev/app".to_string(), name.to_string()),
        ])),
        owner_references: Some(vec![OwnerReference {
            api_version: "baseplate.dev/v1alpha1".into(),
            kind: "App".into(),
            name: name.into(),
            uid: APP_UID.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]),
        ..Default::default()
    }
    .into_response_partial()
}

pub fn app(yaml: &str) -> App {
    let mut app: App = serde_saphyr::from_str(yaml).unwrap();
    app.metadata.namespace = Some("shop".into());
    app.metadata.uid = Some(APP_UID.into());
    app.metadata.generation = Some(1);
    app
}

pub const REFERENCE: &str = include_str!("../../../examples/my-application.yaml");

pub fn fixed_time() -> Time {
    Time(jiff::Timestamp::from_second(1_800_000_000).unwrap())
}

pub fn fixed_secret() -> String {
    "generated-value-0123456789abcdef".into()
}

pub fn empty_children() -> ChildStores {
    ChildStores {
        config_maps: store_of(vec![]),
        secrets: store_of(vec![]),
        jobs: store_of(vec![]),
        deployments: store_of(vec![]),
        services: store_of(vec![]),
        horizontal_pod_autoscalers: store_of(vec![]),
        pod_disruption_budgets: store_of(vec![]),
        ingresses: store_of(vec![]),
        cron_jobs: store_of(vec![]),
    }
}

/// A cached Deployment of Baseplate's, as the slimmed Deployment cache holds it.
pub fn owned_deployment(name: &str, version: &str, replicas: Option<i32>) -> Deployment {
    Deployment {
        metadata: owned_meta::<Deployment>(name, version).metadata,
        spec: Some(k8s_openapi::api::apps::v1::DeploymentSpec {
            replicas,
            ..Default::default()
        }),
        status: None,
    }
}

/// A child of Baseplate's cached whole (without status), as Services and autoscalers are.
pub fn owned_object<K: Resource<DynamicType = ()> + Default>(name: &str, version: &str) -> K {
    let mut object = K::default();
    *object.meta_mut() = owned_meta::<K>(name, version).metadata;
    object
}

/// Every child of `name` cached as Baseplate's own, at resourceVersion "1".
pub fn all_owned(name: &str) -> ChildStores {
    ChildStores {
        config_maps: store_of(vec![owned_meta(name, "1")]),
        secrets: store_of(vec![owned_meta(name, "1")]),
        deployments: store_of(vec![owned_deployment(name, "1", None)]),
        services: store_of(vec![owned_object(name, "1")]),
        horizontal_pod_autoscalers: store_of(vec![owned_object(name, "1")]),
        pod_disruption_budgets: store_of(vec![owned_meta(name, "1")]),
        ingresses: store_of(vec![owned_meta(name, "1")]),
        jobs: store_of(vec![]),
        cron_jobs: store_of(vec![]),
    }
}

pub const NS: &str = "/namespaces/shop";

pub fn child_paths(name: &str) -> Vec<String> {
    vec![
        format!("/api/v1{NS}/configmaps/{name}"),
        format!("/api/v1{NS}/secrets/{name}"),
        format!("/apis/apps/v1{NS}/deployments/{name}"),
        format!("/api/v1{NS}/services/{name}"),
        format!("/apis/autoscaling/v2{NS}/horizontalpodautoscalers/{name}"),
        format!("/apis/policy/v1{NS}/poddisruptionbudgets/{name}"),
        format!("/apis/networking.k8s.io/v1{NS}/ingresses/{name}"),
    ]
}

pub fn status_path(name: &str) -> String {
    format!("/apis/baseplate.dev/v1alpha1{NS}/apps/{name}/status")
}

pub fn written_status(calls: &[Call], name: &str) -> AppStatus {
    let call = calls
        .iter()
        .find(|c| c.is("PATCH", &status_path(name)))
        .expect("status was written");
    serde_json::from_value(call.body["status"].clone()).unwrap()
}

pub fn condition<'a>(
    status: &'a AppStatus,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    status.conditions.iter().find(|c| c.type_ == type_).unwrap()
}

pub fn events(calls: &[Call]) -> Vec<(String, String)> {
    calls
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/events"))
        .map(|c| {
            (
                c.body["reason"].as_str().unwrap_or_default().to_string(),
                c.body["note"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
