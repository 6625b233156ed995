//! Server-side apply of one child the App wants, and what the answer says changed.

use std::fmt::Debug;

use baseplate_crd::{App, ChildRef};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::plan;
use super::report::Change;
use crate::controller::context::{AppliedChild, Context};
use crate::controller::error::{Error, is_transient};
use crate::controller::owner::owned_by;

/// The field manager of every write Baseplate makes (children and the App's status). The
/// managed-by label happens to carry the same word; the two are separate names for separate
/// jobs.
pub const FIELD_MANAGER: &str = "baseplate";

/// A resourceVersion no stored object has: versions are etcd revisions, which are signed
/// 64-bit. An apply carrying it is a create that never takes anything over: the API server
/// creates a missing object (a create does not check the version) and refuses to change an
/// existing one (409, the version precondition fails). So a child the cache does not show is
/// created without first asking whether some foreign object holds its name.
pub const CREATE_ONLY_VERSION: &str = "18446744073709551615";

#[derive(Clone, Copy, Debug, Default)]
pub struct WriteOptions {
    /// When the child turns out to exist though the cache does not show it, fail the
    /// reconcile (to be retried) instead of looking at it and applying.
    pub exists_is_retryable: bool,
}

/// Applies `desired` (stamped with `digest`, see `plan::stamped`) as `child`; a child the cache does not show (`cached` is `None`) is
/// created without taking over any object that holds its name. Returns the object the API
/// server answered with and what changed.
#[allow(clippy::too_many_arguments)]
pub async fn apply<K>(
    ctx: &Context,
    app: &App,
    api: &Api<K>,
    desired: &K,
    digest: u64,
    cached: Option<ObjectMeta>,
    child: &ChildRef,
    options: WriteOptions,
) -> Result<(Option<K>, Change), Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    let name = child.name.clone();
    // Our own children are in the cache (label-filtered); anything else must not be touched.
    let mut existing = cached;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let answer = if existing.is_none() {
        let mut create = desired.clone();
        create.meta_mut().resource_version = Some(CREATE_ONLY_VERSION.into());
        match api.patch(&name, &params, &Patch::Apply(&create)).await {
            Err(kube::Error::Api(status)) if status.code == 409 => {
                if options.exists_is_retryable {
                    return Err(Error::AppearedUnseen {
                        child: child.clone(),
                    });
                }
                // It exists though the cache does not show it: look at whose it is.
                existing = api
                    .get_metadata_opt(&name)
                    .await
                    .map_err(|source| Error::Read {
                        child: child.clone(),
                        source,
                    })?
                    .map(|m| m.metadata);
                if existing.is_none() {
                    return Err(Error::AppearedUnseen {
                        child: child.clone(),
                    });
                }
                None
            }
            other => Some(other),
        }
    } else {
        None
    };
    if let Some(meta) = &existing
        && !owned_by(meta, app)
    {
        return Ok((None, Change::Conflict));
    }
    let answer = match answer {
        Some(answer) => answer,
        None => api.patch(&name, &params, &Patch::Apply(desired)).await,
    };
    let applied = match answer {
        Ok(applied) => applied,
        Err(source) if is_transient(&source) => {
            return Err(Error::Apply {
                child: child.clone(),
                source,
            });
        }
        Err(source) => return Ok((None, Change::Refused(api_message(&source)))),
    };

    let answered = applied.meta();
    let cached_version = existing.as_ref().and_then(|m| m.resource_version.clone());
    // The child carried this same desired object's digest: the apply undid someone's change.
    let carried_this = existing
        .as_ref()
        .and_then(plan::carried)
        .is_some_and(|d| d == plan::hex(digest));
    let previous = ctx.memory.lock().expect("lock").applied.insert(
        child.clone(),
        AppliedChild {
            app: app.name_any(),
            desired_digest: digest,
            resource_version: answered.resource_version.clone(),
            generation: answered.generation,
            applied_at: Instant::now(),
            // An apply that changed nothing answers with the version the cache already shows.
            seen: cached_version.is_some() && cached_version == answered.resource_version,
        },
    );
    let known_versions = [
        cached_version,
        previous.as_ref().and_then(|p| p.resource_version.clone()),
    ];
    let changed = !known_versions.contains(&answered.resource_version);
    let change = if existing.is_none() {
        Change::Created
    } else if changed {
        match previous {
            // Same desired object as last time, yet the apply changed something: someone edited it.
            Some(p) if p.desired_digest == digest => Change::DriftCorrected,
            None if carried_this => Change::DriftCorrected,
            _ => Change::Updated,
        }
    } else {
        Change::None
    };
    Ok((Some(applied), change))
}

/// The API server's own words for a refused request.
fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}
