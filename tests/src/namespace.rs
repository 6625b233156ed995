//! Temporary cluster-scoped objects: a test's namespace, a test's Platform, deleted when
//! dropped.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::marker::PhantomData;

use anyhow::Context as _;
use k8s_openapi::ClusterResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::Result;

/// Creates namespace `name` with `labels`; it is deleted when the guard is dropped.
pub async fn create_temporary_namespace(
    client: &Client,
    name: &str,
    labels: BTreeMap<String, String>,
) -> Result<DeleteOnDrop<Namespace>> {
    let object = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &object)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(DeleteOnDrop::new(name))
}

/// Deletes a cluster-scoped object (a namespace, a Platform) when dropped, even when the
/// test panicked: best effort, on a thread with a runtime and client of its own.
pub struct DeleteOnDrop<K>
where
    K: Resource<DynamicType = (), Scope = ClusterResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + 'static,
{
    name: String,
    kind: PhantomData<fn() -> K>,
}

impl<K> DeleteOnDrop<K>
where
    K: Resource<DynamicType = (), Scope = ClusterResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + 'static,
{
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            kind: PhantomData,
        }
    }
}

impl<K> Drop for DeleteOnDrop<K>
where
    K: Resource<DynamicType = (), Scope = ClusterResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + 'static,
{
    fn drop(&mut self) {
        let name = self.name.clone();
        let deleted = std::thread::spawn(move || -> Result {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let api = Api::<K>::all(Client::try_default().await?);
                match api.delete(&name, &DeleteParams::background()).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                    Err(error) => Err(error.into()),
                }
            })
        })
        .join();
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!(
                "cleanup: could not delete {} {}: {deleted:?}",
                K::kind(&()),
                self.name
            );
        }
    }
}
