//! Cluster setup and the API calls every phase shares: the load namespaces, applying
//! objects with bounded concurrency, label-selected LISTs of the child kinds.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use baseplate_crd::{Platform, labels};
use baseplate_tests::wait::poll;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::measure::{Counters, Version, Versions, parse_prometheus, requests_by_resource};
use crate::workload::{HARNESS_MANAGER, LOAD_LABEL, PLATFORM_NAME, platform_manifest};

/// The field manager of the operator's writes, as the README documents it: the harness tells
/// the operator's writes from its own by it.
const OPERATOR_FIELD_MANAGER: &str = "baseplate";

/// The seven child kinds, in the operator's apply order.
pub const CHILD_KINDS: [&str; 7] = [
    "ConfigMap",
    "Secret",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
];

pub fn api_resource(kind: &str) -> ApiResource {
    match kind {
        "ConfigMap" => ApiResource::erase::<ConfigMap>(&()),
        "Secret" => ApiResource::erase::<Secret>(&()),
        "Deployment" => ApiResource::erase::<Deployment>(&()),
        "Service" => ApiResource::erase::<Service>(&()),
        "HorizontalPodAutoscaler" => ApiResource::erase::<HorizontalPodAutoscaler>(&()),
        "PodDisruptionBudget" => ApiResource::erase::<PodDisruptionBudget>(&()),
        "Ingress" => ApiResource::erase::<Ingress>(&()),
        "App" => ApiResource::erase::<baseplate_crd::App>(&()),
        other => panic!("not a kind the harness writes: {other}"),
    }
}

/// The label selector of every child Baseplate makes (the baseline renders the same labels).
pub fn children_selector() -> String {
    format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE)
}

pub fn load_selector() -> String {
    format!("{LOAD_LABEL}=true")
}

/// Server-side applies `objects` (JSON with apiVersion, kind and metadata) with at most
/// `concurrency` requests in flight. Returns how many were applied.
pub async fn apply_all(
    client: &Client,
    objects: Vec<Value>,
    manager: &str,
    concurrency: usize,
) -> anyhow::Result<usize> {
    let count = objects.len();
    let params = PatchParams::apply(manager).force();
    stream::iter(objects)
        .map(|object| {
            let client = client.clone();
            let params = params.clone();
            async move {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
                let kind = text(&object["kind"]);
                let name = text(&object["metadata"]["name"]);
                let namespace = text(&object["metadata"]["namespace"]);
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client, &namespace, &api_resource(&kind));
                api.patch(&name, &params, &Patch::Apply(&object))
                    .await
                    .with_context(|| format!("applying {kind} {namespace}/{name}"))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_for_each(|()| futures::future::ready(Ok(())))
        .await?;
    Ok(count)
}

/// Metadata of every object of `kind` with `selector` in one of `namespaces` (one cluster-wide LIST).
pub async fn list_meta(
    client: &Client,
    kind: &str,
    selector: &str,
    namespaces: &HashSet<String>,
) -> anyhow::Result<Vec<PartialObjectMeta<DynamicObject>>> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(kind));
    let list = api
        .list_metadata(&ListParams::default().labels(selector))
        .await
        .with_context(|| format!("listing {kind}"))?;
    Ok(list
        .items
        .into_iter()
        .filter(|o| o.namespace().is_some_and(|ns| namespaces.contains(&ns)))
        .collect())
}

/// `(namespace, name)` of every child of `kind` in the load namespaces.
pub async fn present(
    client: &Client,
    kind: &str,
    namespaces: &HashSet<String>,
) -> anyhow::Result<HashSet<(String, String)>> {
    Ok(list_meta(client, kind, &children_selector(), namespaces)
        .await?
        .into_iter()
        .map(|o| (o.namespace().unwrap_or_default(), o.name_any()))
        .collect())
}

/// The resourceVersion of every child and App in the load namespaces, with the time of the
/// operator's last change from managedFields (for an App: of its status).
pub async fn versions(client: &Client, namespaces: &HashSet<String>) -> anyhow::Result<Versions> {
    let mut versions = Versions::new();
    let selectors = CHILD_KINDS
        .iter()
        .map(|kind| (*kind, children_selector(), ""))
        .chain([("App", load_selector(), "status")]);
    for (kind, selector, subresource) in selectors {
        for object in list_meta(client, kind, &selector, namespaces).await? {
            let operator_time = object
                .metadata
                .managed_fields
                .iter()
                .flatten()
                .find(|f| {
                    f.manager.as_deref() == Some(OPERATOR_FIELD_MANAGER)
                        && f.subresource.as_deref().unwrap_or_default() == subresource
                })
                .and_then(|f| f.time.as_ref())
                .map(|t| t.0.to_string());
            versions.insert(
                format!(
                    "{kind}/{}/{}",
                    object.namespace().unwrap_or_default(),
                    object.name_any()
                ),
                Version {
                    resource_version: object.resource_version().unwrap_or_default(),
                    operator_time,
                },
            );
        }
    }
    Ok(versions)
}

/// For this long after a namespace is deleted, the API server's NamespaceLifecycle admission
/// looks the namespace up with a live GET on every create in a namespace of that name
/// (`forceLiveLookupTTL`, 30 s), which would load the next phase with requests of its own.
pub const NAMESPACE_LIVE_LOOKUP: Duration = Duration::from_secs(32);

/// Waits out [`NAMESPACE_LIVE_LOOKUP`] after the last namespace deletion.
pub async fn wait_out_live_lookups(deleted: Option<Instant>) {
    if let Some(deleted) = deleted {
        tokio::time::sleep(NAMESPACE_LIVE_LOOKUP.saturating_sub(deleted.elapsed())).await;
    }
}

/// Deletes the load namespaces that exist and waits until they are gone; returns when the
/// last DELETE was sent, if any was. Refuses to touch a
/// namespace of that name that the harness did not label as its own.
pub async fn delete_namespaces(
    client: &Client,
    names: &[String],
    timeout: Duration,
) -> anyhow::Result<Option<Instant>> {
    let mut deleted = None;
    let api = Api::<Namespace>::all(client.clone());
    for name in names {
        if let Some(namespace) = api.get_metadata_opt(name).await? {
            if namespace.labels().get(LOAD_LABEL).map(String::as_str) != Some("true") {
                bail!(
                    "namespace {name} exists but is not labelled {LOAD_LABEL}=true; not deleting someone else's namespace"
                );
            }
            if namespace.metadata.deletion_timestamp.is_none() {
                api.delete(name, &DeleteParams::background()).await?;
                deleted = Some(Instant::now());
            }
        }
    }
    let wanted: HashSet<&String> = names.iter().collect();
    poll(
        "load namespaces deleted",
        Duration::from_secs(1),
        timeout,
        async || {
            let left = api
                .list_metadata(&ListParams::default().labels(&load_selector()))
                .await?
                .items
                .iter()
                .filter(|ns| wanted.contains(&ns.name_any()))
                .count();
            Ok((left == 0).then_some(()))
        },
    )
    .await?;
    Ok(deleted)
}

pub async fn create_namespaces(client: &Client, names: &[String]) -> anyhow::Result<()> {
    let api = Api::<Namespace>::all(client.clone());
    for name in names {
        let namespace = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {LOAD_LABEL: "true"}},
        });
        api.patch(
            name,
            &PatchParams::apply(HARNESS_MANAGER).force(),
            &Patch::Apply(&namespace),
        )
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    }
    Ok(())
}

/// Creates the load Platform or changes its preStop default.
pub async fn apply_platform(client: &Client, pre_stop_seconds: i64) -> anyhow::Result<()> {
    Api::<Platform>::all(client.clone())
        .patch(
            PLATFORM_NAME,
            &PatchParams::apply(HARNESS_MANAGER).force(),
            &Patch::Apply(&platform_manifest(pre_stop_seconds)),
        )
        .await
        .context("applying the load Platform")?;
    Ok(())
}

/// Deletes the harness's Platform if it exists (and only if it carries the load label).
pub async fn delete_platform(client: &Client) -> anyhow::Result<()> {
    let api = Api::<Platform>::all(client.clone());
    if let Some(platform) = api.get_metadata_opt(PLATFORM_NAME).await? {
        if platform.labels().get(LOAD_LABEL).map(String::as_str) != Some("true") {
            bail!(
                "Platform {PLATFORM_NAME} exists but is not labelled {LOAD_LABEL}=true; not deleting it"
            );
        }
        api.delete(PLATFORM_NAME, &DeleteParams::background())
            .await?;
    }
    Ok(())
}

/// Platforms other than the harness's, by name, with whether they select every namespace
/// (they then change what the load Apps render).
pub async fn foreign_platforms(client: &Client) -> anyhow::Result<BTreeMap<String, bool>> {
    Ok(Api::<Platform>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|p| p.name_any() != PLATFORM_NAME)
        .map(|p| {
            let everywhere = p.spec.namespace_selector.is_none();
            (p.name_any(), everywhere)
        })
        .collect())
}

/// The API server's own request counters (`apiserver_request_total`, every client), keyed
/// `VERB resource[/subresource]`.
pub async fn apiserver_requests(client: &Client) -> anyhow::Result<Counters> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(request).await?;
    Ok(requests_by_resource(&parse_prometheus(&text)))
}

pub async fn server_version(client: &Client) -> String {
    match client.apiserver_version().await {
        Ok(info) => info.git_version,
        Err(error) => format!("unknown ({error})"),
    }
}
