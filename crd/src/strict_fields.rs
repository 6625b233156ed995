//! Unknown fields, refused offline as `kubectl apply` refuses them (the API server's strict field
//! validation): anywhere in a document, including inside the embedded Kubernetes types
//! (`podSecurityContext`, `namespaceSelector`, ...) and in `metadata`.
//!
//! serde's `deny_unknown_fields` covers Baseplate's own structs, but k8s-openapi's types and
//! `ObjectMeta` ignore what they do not know, so a typo there (`readOnlyRootFilesytem`,
//! `metadata.lables`) would be dropped silently. Instead the raw document is walked against the
//! CRD's structural schema, with `metadata` against `ObjectMeta`'s schema, which is what the API
//! server knows of them.

use std::sync::LazyLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::error::FieldError;
use crate::schemas::Checked;

/// Every field of `document` the `K` CRD does not declare.
pub fn unknown_fields<K: Checked>(document: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Value::Object(fields) = document else {
        return errors;
    };
    // What the API server adds to every custom resource's root.
    for (key, value) in fields {
        match key.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => walk(&OBJECT_META, value, key, &mut errors),
            _ => match K::schema()["properties"].get(key) {
                Some(schema) => walk(schema, value, key, &mut errors),
                None => {
                    let known = ["apiVersion", "kind", "metadata"].map(String::from);
                    let known = known.iter().chain(
                        K::schema()["properties"]
                            .as_object()
                            .into_iter()
                            .flat_map(|p| p.keys()),
                    );
                    errors.push(unknown(key, key, known));
                }
            },
        }
    }
    errors
}

static OBJECT_META: LazyLock<Value> = LazyLock::new(|| {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    serde_json::to_value(generator.into_root_schema_for::<ObjectMeta>()).expect("schemas serialize")
});

fn walk(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|s| s.is_object());
            // An object schema that lists no fields holds free-form data (FieldsV1 in
            // metadata.managedFields); the CRDs themselves have none (tests/crds.rs).
            if properties.is_none() && additional.is_none() {
                return;
            }
            for (key, field) in fields {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match properties.and_then(|p| p.get(key)).or(additional) {
                    Some(field_schema) => walk(field_schema, field, &at, errors),
                    None => {
                        let known = properties.into_iter().flat_map(|p| p.keys());
                        errors.push(unknown(&at, key, known));
                    }
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(&schema["items"], item, &format!("{path}[{index}]"), errors);
            }
        }
        _ => {}
    }
}

fn unknown<'a>(at: &str, key: &str, known: impl Iterator<Item = &'a String> + Clone) -> FieldError {
    let closest = known
        .clone()
        .map(|k| (strsim::levenshtein(k, key), k))
        .min()
        .filter(|(distance, _)| *distance <= (key.len() / 3).max(2));
    let hint = match closest {
        Some((_, field)) => format!("did you mean `{field}`?"),
        None => {
            let fields: Vec<&str> = known.map(String::as_str).collect();
            format!("the fields here are {}", fields.join(", "))
        }
    };
    FieldError::new(
        at,
        format!("unknown field `{key}`; remove it or fix its spelling ({hint})"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{App, Platform};

    fn document(yaml: &str) -> Value {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn a_typo_in_metadata_is_found_with_a_suggestion() {
        let errors = unknown_fields::<App>(&document(
            "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: a, lables: {x: y}}\nspec: {image: nginx}",
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "metadata.lables");
        assert!(
            errors[0].message.contains("did you mean `labels`?"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn typos_inside_embedded_kubernetes_types_are_found() {
        let errors = unknown_fields::<Platform>(&document(
            "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: p}\nspec:\n  namespaceSelector: {matchLabel: {a: b}}\n  defaults:\n    containerSecurityContext: {readOnlyRootFilesytem: true, capabilities: {drop: [ALL], dorp: [NET_RAW]}}\n",
        ));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.defaults.containerSecurityContext.capabilities.dorp",
                "spec.defaults.containerSecurityContext.readOnlyRootFilesytem",
                "spec.namespaceSelector.matchLabel",
            ],
            "{errors:?}"
        );
    }

    #[test]
    fn free_form_maps_and_managed_fields_are_not_checked_key_by_key() {
        let errors = unknown_fields::<App>(&document(
            "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata:\n  name: a\n  labels: {anything: goes}\n  managedFields: [{manager: kubectl, fieldsV1: {'f:spec': {}}}]\nspec: {image: nginx, env: {ANY: x}}\nstatus: {url: x}\n",
        ));
        assert_eq!(errors, vec![]);
    }
}
