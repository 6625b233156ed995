//! The invalid table (`crd/tests/data/invalid.yaml`) against a real API server: its documents
//! as `kubectl apply --server-side` sends them, and what a refusal must name.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

use crate::Result;

/// The cases, read by the same code as the offline tests.
#[path = "../../crd/tests/common/cases.rs"]
pub mod cases;

/// A YAML document as the JSON object `kubectl` sends.
pub fn to_json(document: &str) -> Result<Value> {
    Ok(serde_saphyr::from_str(document)?)
}

/// Server-side applies `object` (an App or a Platform) with strict field validation, as
/// `kubectl apply --server-side` does.
pub async fn apply(
    client: &Client,
    manager: &str,
    object: &Value,
) -> std::result::Result<(), kube::Error> {
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("baseplate.dev", "v1alpha1", kind));
    let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let params = PatchParams::apply(manager).force().validation_strict();
    api.patch(name, &params, &Patch::Apply(object))
        .await
        .map(|_| ())
}

/// Whether the API server's message names `field`, in either spelling of a map key
/// (`spec.podLabels.team` offline, `spec.podLabels[team]` from the API server).
pub fn names_field(message: &str, field: &str) -> bool {
    if message.contains(field) {
        return true;
    }
    let Some((parent, key)) = field.rsplit_once('.') else {
        return false;
    };
    message.contains(&format!("{parent}[{key}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_found_in_either_spelling() {
        assert!(names_field(
            "spec.podLabels[team]: Invalid value",
            "spec.podLabels.team"
        ));
        assert!(names_field(
            ".spec.imagee: field not declared in schema",
            "spec.imagee"
        ));
        assert!(!names_field("spec.image: Invalid value", "spec.replicas"));
    }

    #[test]
    fn every_case_builds_a_document_kubectl_could_send() {
        for case in cases::all() {
            let object = to_json(&case.document()).unwrap();
            assert!(object["metadata"]["name"].is_string(), "{}", case.name);
            for (_, platform) in case.platform_documents() {
                to_json(&platform).unwrap();
            }
        }
    }
}
