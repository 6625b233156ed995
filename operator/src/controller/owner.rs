//! Which objects are an App's: Baseplate changes or deletes only objects that carry its
//! managed-by label and a controller owner reference to the App's UID.

use baseplate_crd::{App, ChildKind, ChildRef, labels};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};

/// The App's child of `kind` (every child has its App's name and namespace).
pub fn child_of(app: &App, kind: ChildKind) -> ChildRef {
    kind.of(&app.namespace().unwrap_or_default(), &app.name_any())
}

/// Whether this App is the controller owner of the object.
pub fn owned_by(meta: &ObjectMeta, app: &App) -> bool {
    let uid = app.meta().uid.as_deref();
    uid.is_some()
        && meta
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == uid)
}

/// Whether the object carries Baseplate's managed-by label.
pub fn has_our_labels(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(labels::MANAGED_BY))
        .map(String::as_str)
        == Some(labels::MANAGED_BY_VALUE)
}
