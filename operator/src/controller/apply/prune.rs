//! Deleting a child the App no longer wants, if it is the App's own.

use std::fmt::Debug;

use baseplate_crd::{App, ChildRef};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::{Api, DeleteParams, Preconditions};
use serde::de::DeserializeOwned;

use super::report::Change;
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::controller::owner::{has_our_labels, owned_by};

/// Deletes `child` when the cache shows it (`cached`) as this App's, labelled as Baseplate's;
/// anything else of that name is left alone.
pub async fn prune<K>(
    ctx: &Context,
    app: &App,
    api: &Api<K>,
    cached: Option<ObjectMeta>,
    child: &ChildRef,
) -> Result<Change, Error>
where
    K: Resource + Clone + Debug + DeserializeOwned,
{
    let Some(existing) = cached.filter(|meta| owned_by(meta, app) && has_our_labels(meta)) else {
        return Ok(Change::None);
    };
    delete(api, &existing, child).await?;
    ctx.memory.lock().expect("lock").applied.remove(child);
    Ok(Change::Pruned)
}

async fn delete<K>(api: &Api<K>, meta: &ObjectMeta, child: &ChildRef) -> Result<(), Error>
where
    K: Resource + Clone + Debug + DeserializeOwned,
{
    // The UID precondition makes sure the object deleted is the one found to be ours.
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: meta.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api
        .delete(meta.name.as_deref().unwrap_or_default(), &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(Error::Prune {
            child: child.clone(),
            source,
        }),
    }
}
