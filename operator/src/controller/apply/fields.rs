//! What Baseplate's field manager owns of a live child, read from its managedFields.
//!
//! Server-side apply keeps, per field manager, the set of fields it owns. Any other writer
//! that changes a field Baseplate owns (`kubectl edit`, a merge patch, a forced apply, a PUT)
//! takes that field from Baseplate's set, and a field someone removes leaves every set. So a
//! child carrying the digest of the object Baseplate wants, whose Baseplate set still holds
//! every field of that object, is as Baseplate last applied it: applying again would change
//! nothing (see `plan`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, ObjectMeta};
use serde_json::{Map, Value};

use super::write::FIELD_MANAGER;

/// Keeps of a cached child's managedFields only Baseplate's own apply of the object (not of a
/// subresource), its field set as compact JSON text: a parsed field set takes several times
/// the memory, and the cache holds one per child.
pub fn keep_own(meta: &mut ObjectMeta) {
    let own = meta
        .managed_fields
        .take()
        .into_iter()
        .flatten()
        .find(is_own_apply)
        .and_then(|entry| entry.fields_v1)
        .map(|FieldsV1(fields)| ManagedFieldsEntry {
            manager: Some(FIELD_MANAGER.into()),
            operation: Some("Apply".into()),
            fields_v1: Some(FieldsV1(Value::String(fields.to_string()))),
            ..Default::default()
        });
    meta.managed_fields = own.map(|entry| vec![entry]);
}

fn is_own_apply(entry: &ManagedFieldsEntry) -> bool {
    entry.manager.as_deref() == Some(FIELD_MANAGER)
        && entry.operation.as_deref() == Some("Apply")
        && entry.subresource.as_deref().unwrap_or_default().is_empty()
}

/// The field set Baseplate's apply owns on `meta`, parsed (whether kept as text by
/// [`keep_own`] or as the API server sent it).
pub fn own_fields(meta: &ObjectMeta) -> Option<Value> {
    let FieldsV1(fields) = meta
        .managed_fields
        .iter()
        .flatten()
        .find(|entry| is_own_apply(entry))?
        .fields_v1
        .as_ref()?;
    match fields {
        Value::String(text) => serde_json::from_str(text).ok(),
        other => Some(other.clone()),
    }
}

/// Whether the field set `owned` (FieldsV1) holds every field of `desired` (the object as
/// Baseplate applies it). The set itself says how each list is merged: `k:` entries (a list
/// of maps keyed by some of their fields), `v:` entries (a set of values), or nothing below the
/// list (an atomic list, owned whole, like any leaf).
pub fn covers(owned: &Value, desired: &Value) -> bool {
    let (Some(owned), Some(desired)) = (owned.as_object(), desired.as_object()) else {
        return false;
    };
    desired.iter().all(|(key, value)| match key.as_str() {
        // The object's identity is no field anyone owns.
        "apiVersion" | "kind" => true,
        "metadata" => match (
            field(owned, key).and_then(Value::as_object),
            value.as_object(),
        ) {
            (Some(node), Some(meta)) => meta.iter().all(|(key, value)| {
                matches!(key.as_str(), "name" | "namespace")
                    || value.is_null()
                    || field(node, key).is_some_and(|n| node_covers(n, value))
            }),
            _ => false,
        },
        _ => value.is_null() || field(owned, key).is_some_and(|n| node_covers(n, value)),
    })
}

fn field<'a>(node: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    node.get(&format!("f:{key}"))
}

fn node_covers(node: &Value, value: &Value) -> bool {
    let Some(node) = node.as_object() else {
        return false;
    };
    // Nothing below: a scalar, an atomic map or list, owned whole.
    if node.keys().all(|k| k == ".") {
        return true;
    }
    match value {
        Value::Object(map) => map.iter().all(|(key, value)| {
            value.is_null() || field(node, key).is_some_and(|n| node_covers(n, value))
        }),
        Value::Array(items) => items.iter().all(|item| element_covered(node, item)),
        _ => true,
    }
}

/// Whether some entry of a list's field set is `item` and covers it. A key field the item
/// leaves out matches any value, since the API server defaults it (a port's protocol).
fn element_covered(list: &Map<String, Value>, item: &Value) -> bool {
    list.iter().any(|(entry, node)| {
        if let Some(key) = entry.strip_prefix("k:") {
            let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else {
                return false;
            };
            let Some(fields) = item.as_object() else {
                return false;
            };
            key.iter()
                .all(|(name, wanted)| fields.get(name).is_none_or(|v| v == wanted))
                && node_covers(node, item)
        } else if let Some(value) = entry.strip_prefix("v:") {
            serde_json::from_str::<Value>(value).is_ok_and(|v| v == *item)
        } else {
            false
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Deployment and the field set the API server (Kubernetes 1.36) recorded for
    /// Baseplate's apply of it (`kubectl apply --server-side --dry-run=server`).
    fn applied() -> (Value, Value) {
        let desired = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "shop",
                "labels": {"a": "b"},
                "annotations": {"x": "y"},
                "ownerReferences": [{"apiVersion": "baseplate.dev/v1alpha1", "kind": "App",
                    "name": "web", "uid": "1234", "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {
                        "containers": [{
                            "name": "app", "image": "nginx", "args": [],
                            "ports": [{"name": "http", "containerPort": 80}],
                            "env": [{"name": "A", "value": "b"}],
                            "securityContext": {},
                        }],
                        "volumes": [{"name": "tmp", "emptyDir": {}}],
                        "tolerations": [],
                    },
                },
            },
        });
        let owned: Value = serde_json::from_str(
            r#"{"f:metadata":{"f:annotations":{"f:x":{}},"f:labels":{"f:a":{}},"f:ownerReferences":{"k:{\"uid\":\"1234\"}":{}}},"f:spec":{"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:a":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:args":{},"f:env":{"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}}},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{}}},"f:securityContext":{}}},"f:tolerations":{},"f:volumes":{"k:{\"name\":\"tmp\"}":{".":{},"f:emptyDir":{},"f:name":{}}}}}}}"#,
        )
        .unwrap();
        (desired, owned)
    }

    /// `owned` without the field at `path`, as the API server keeps a field set: a parent
    /// left with no field below is no longer in it either.
    fn without(mut owned: Value, path: &[&str]) -> Value {
        fn remove(node: &mut Value, path: &[&str]) -> bool {
            let map = node.as_object_mut().unwrap();
            match path {
                [last] => map.remove(*last).is_some(),
                [first, rest @ ..] => {
                    let child = map.get_mut(*first).unwrap();
                    let removed = remove(child, rest);
                    if child.as_object().unwrap().is_empty() {
                        map.remove(*first);
                    }
                    removed
                }
                [] => false,
            }
        }
        assert!(remove(&mut owned, path), "{path:?}");
        owned
    }

    #[test]
    fn the_set_of_an_apply_covers_what_was_applied() {
        let (desired, owned) = applied();
        assert!(covers(&owned, &desired));
    }

    #[test]
    fn a_field_taken_over_or_removed_is_no_longer_covered() {
        let (desired, owned) = applied();
        let containers = ["f:spec", "f:template", "f:spec", "f:containers"];
        let app = r#"k:{"name":"app"}"#;
        for path in [
            &["f:metadata", "f:labels", "f:a"][..],
            &["f:metadata", "f:ownerReferences", r#"k:{"uid":"1234"}"#],
            &["f:spec", "f:selector"],
            &[
                containers[0],
                containers[1],
                containers[2],
                containers[3],
                app,
                "f:image",
            ],
            &[
                containers[0],
                containers[1],
                containers[2],
                containers[3],
                app,
                "f:env",
                r#"k:{"name":"A"}"#,
                "f:value",
            ],
            &[
                containers[0],
                containers[1],
                containers[2],
                containers[3],
                app,
                "f:ports",
                r#"k:{"containerPort":80,"protocol":"TCP"}"#,
            ],
            &["f:spec", "f:template", "f:spec", "f:tolerations"],
        ] {
            assert!(!covers(&without(owned.clone(), path), &desired), "{path:?}");
        }
    }

    #[test]
    fn a_field_baseplate_now_wants_is_not_covered_by_the_old_set() {
        let (mut desired, owned) = applied();
        desired["spec"]["minReadySeconds"] = json!(5);
        assert!(!covers(&owned, &desired));
        let (mut desired, owned) = applied();
        desired["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "B", "value": "c"}));
        assert!(!covers(&owned, &desired));
        let (mut desired, owned) = applied();
        desired["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("UDP");
        assert!(!covers(&owned, &desired));
    }

    #[test]
    fn a_set_of_values_is_matched_by_value() {
        let owned = json!({"f:spec": {"f:finalizers": {"v:\"a\"": {}}}});
        assert!(covers(&owned, &json!({"spec": {"finalizers": ["a"]}})));
        assert!(!covers(
            &owned,
            &json!({"spec": {"finalizers": ["a", "b"]}})
        ));
    }

    #[test]
    fn only_baseplates_own_apply_is_kept_in_the_cache_as_text() {
        let (_, owned) = applied();
        let entry =
            |manager: &str, operation: &str, subresource: Option<&str>| ManagedFieldsEntry {
                manager: Some(manager.into()),
                operation: Some(operation.into()),
                subresource: subresource.map(Into::into),
                fields_v1: Some(FieldsV1(owned.clone())),
                ..Default::default()
            };
        let mut meta = ObjectMeta {
            managed_fields: Some(vec![
                entry("kube-controller-manager", "Update", None),
                entry(FIELD_MANAGER, "Update", Some("status")),
                entry(FIELD_MANAGER, "Apply", None),
            ]),
            ..Default::default()
        };
        keep_own(&mut meta);
        let kept = meta.managed_fields.as_ref().unwrap();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].fields_v1.as_ref().unwrap().0.is_string());
        assert_eq!(own_fields(&meta), Some(applied().1));

        let mut foreign = ObjectMeta {
            managed_fields: Some(vec![entry("kubectl-edit", "Update", None)]),
            ..Default::default()
        };
        keep_own(&mut foreign);
        assert_eq!(foreign.managed_fields, None);
        assert_eq!(own_fields(&foreign), None);
    }
}
