//! The revision history of staged Platforms, kept as `ControllerRevision`s (apps/v1) in the
//! operator's namespace (Platforms are cluster-scoped), each owned by its Platform so that
//! deleting the Platform deletes its history. `data` is the Platform spec; the name is
//! `<platform>-<hash of the spec>` ([`waves::revision_name`]), so a revert finds its old
//! revision again. The rules are [`waves::plan_revisions`]; this module does the I/O.

use std::collections::BTreeSet;
use std::sync::Arc;

use baseplate_crd::waves::{self, StoredRevision};
use baseplate_crd::{Platform, PlatformSpec};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::context::Context;

/// The label naming the Platform a ControllerRevision belongs to; the operator's cache of
/// ControllerRevisions holds only those with it.
pub const PLATFORM_LABEL: &str = "baseplate.dev/platform";

#[derive(Debug, thiserror::Error)]
#[error("keeping the revisions of Platform {platform}: {source}")]
pub struct RevisionError {
    pub platform: String,
    #[source]
    pub source: kube::Error,
}

/// The cached ControllerRevisions of `platform`, owned by this very Platform (its uid: a
/// Platform deleted and created again starts a new history).
pub fn of_platform(ctx: &Context, platform: &Platform) -> Vec<Arc<ControllerRevision>> {
    let uid = platform.uid();
    ctx.revisions
        .state()
        .into_iter()
        .filter(|r| r.labels().get(PLATFORM_LABEL) == Some(&platform.name_any()))
        .filter(|r| {
            r.owner_references()
                .iter()
                .any(|o| o.kind == "Platform" && Some(&o.uid) == uid.as_ref())
        })
        .collect()
}

/// The spec a revision holds; `None` when it does not parse (written by someone else).
pub fn spec_of(revision: &ControllerRevision) -> Option<PlatformSpec> {
    revision
        .data
        .as_ref()
        .and_then(|data| serde_json::from_value(data.0.clone()).ok())
}

/// The spec of `platform`'s revision `name`, from the cache.
pub fn spec_named(ctx: &Context, platform: &Platform, name: &str) -> Option<PlatformSpec> {
    of_platform(ctx, platform)
        .iter()
        .find(|r| r.name_any() == name)
        .and_then(|r| spec_of(r))
}

/// Makes the newest revision of `platform` hold its current spec, and trims the history;
/// `followed`: revisions Apps still render from, never deleted. Returns the newest revision.
pub async fn sync(
    ctx: &Context,
    platform: &Platform,
    followed: &BTreeSet<String>,
) -> Result<StoredRevision, RevisionError> {
    let name = platform.name_any();
    let error = |source| RevisionError {
        platform: name.clone(),
        source,
    };
    let stored: Vec<StoredRevision> = of_platform(ctx, platform)
        .iter()
        .map(|r| StoredRevision {
            name: r.name_any(),
            revision: r.revision,
        })
        .collect();
    let current = waves::revision_name(&name, &waves::spec_hash(&platform.spec));
    let plan = waves::plan_revisions(&stored, &current, followed);
    let newest = plan.newest.clone().expect("a plan always names the newest");
    let api: Api<ControllerRevision> =
        Api::namespaced(ctx.client.clone(), &ctx.settings.operator_namespace);
    if plan.create {
        let revision = ControllerRevision {
            metadata: ObjectMeta {
                name: Some(newest.name.clone()),
                namespace: Some(ctx.settings.operator_namespace.clone()),
                labels: Some([(PLATFORM_LABEL.to_string(), name.clone())].into()),
                owner_references: platform.controller_owner_ref(&()).map(|o| vec![o]),
                ..Default::default()
            },
            data: Some(RawExtension(
                serde_json::to_value(&platform.spec).expect("a Platform spec serializes"),
            )),
            revision: newest.revision,
        };
        api.create(&PostParams::default(), &revision)
            .await
            .map_err(error)?;
    }
    if plan.renumber {
        let patch = json!({"revision": newest.revision});
        api.patch(&newest.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(error)?;
    }
    for old in &plan.delete {
        match api.delete(old, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => return Err(error(source)),
        }
    }
    Ok(newest)
}
