//! Which objects are an App's: Baseplate changes or deletes only objects that carry its
//! managed-by label and a controller owner reference to the App's UID.

use baseplate_crd::{App, ChildKind, ChildRef, labels};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

/// The App's child of `kind` (every child has its App's name and namespace).
pub fn child_of(app: &App, kind: ChildKind) -> ChildRef {
    kind.of(&app.namespace().unwrap_or_default(), &app.name_any())
}

/// Whether this App is the controller owner of the object.
pub fn owned_by(meta: &ObjectMeta, app: &App) -> bool {
    let uid = app.meta().uid.as_deref();
    uid.is_some() && controller_uid(meta) == uid
}

/// The UID of the object's controller (an object has at most one).
pub fn controller_uid(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

/// Of the owner references, the controller's alone: all that a slimmed cache needs.
pub fn controller_only(owners: Option<Vec<OwnerReference>>) -> Option<Vec<OwnerReference>> {
    owners.map(|owners| {
        owners
            .into_iter()
            .filter(|owner| owner.controller == Some(true))
            .collect()
    })
}

/// Whether the object carries Baseplate's managed-by label.
pub fn has_our_labels(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(labels::MANAGED_BY))
        .map(String::as_str)
        == Some(labels::MANAGED_BY_VALUE)
}
