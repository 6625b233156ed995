//! What `baseplate diff` reads from the API server: Apps, namespaces and Platforms, with the
//! list verbs the operator's own RBAC already grants, and nothing else.

use std::collections::BTreeMap;

use anyhow::Context;
use baseplate_crd::{App, Platform};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

pub struct Cluster {
    pub apps: Vec<App>,
    pub namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    pub platforms: Vec<Platform>,
}

pub async fn read() -> anyhow::Result<Cluster> {
    let client = Client::try_default().await.context(
        "connecting to the cluster in KUBECONFIG (offline, use --to NEW.yaml with App files)",
    )?;
    let all = ListParams::default();
    let platforms = Api::<Platform>::all(client.clone())
        .list(&all)
        .await
        .context("listing Platforms")?
        .items;
    let namespace_labels = Api::<Namespace>::all(client.clone())
        .list_metadata(&all)
        .await
        .context("listing namespaces")?
        .items
        .into_iter()
        .map(|ns| (ns.name_any(), ns.labels().clone()))
        .collect();
    let apps = Api::<App>::all(client)
        .list(&all)
        .await
        .context("listing Apps")?
        .items;
    Ok(Cluster {
        apps,
        namespace_labels,
        platforms,
    })
}
