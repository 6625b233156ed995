//! JSON Schemas of App and Platform for editors and CI checks (`baseplate schema`), made from
//! the same CRD schemas the API server enforces, so an editor completes and flags exactly
//! the fields `kubectl apply` knows.
//!
//! The CRDs' structural OpenAPI schema becomes JSON Schema (draft 2020-12): Kubernetes'
//! extensions are translated (`nullable`, `x-kubernetes-int-or-string`), objects with named
//! properties refuse unknown ones (as strict field validation does), and `metadata` gets the
//! ObjectMeta fields a manifest may carry. CEL rules cannot be expressed and are left to
//! `baseplate render` and the API server.

use kube::CustomResourceExt;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::platform::Platform;

pub const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The App schema.
pub fn app() -> Value {
    document::<App>(
        "App",
        "An App: one application that Baseplate expands into its children",
    )
}

/// The Platform schema.
pub fn platform() -> Value {
    document::<Platform>(
        "Platform",
        "A Platform: cluster-wide defaults and guardrails for the Apps in the namespaces it selects",
    )
}

fn document<K: CustomResourceExt>(kind: &str, title: &str) -> Value {
    let crd = serde_json::to_value(K::crd()).expect("CRDs serialize");
    let version = &crd["spec"]["versions"][0];
    let group = crd["spec"]["group"].as_str().unwrap_or_default();
    let api_version = format!("{group}/{}", version["name"].as_str().unwrap_or_default());
    let mut schema = translate(&version["schema"]["openAPIV3Schema"]);
    let namespaced = crd["spec"]["scope"] == "Namespaced";
    let properties = schema["properties"]
        .as_object_mut()
        .expect("a CRD schema has properties");
    properties.insert("apiVersion".into(), json!({"const": api_version}));
    properties.insert("kind".into(), json!({"const": kind}));
    properties.insert("metadata".into(), object_meta(namespaced));
    // Status is written by the operator, never by the people who edit these files.
    properties.remove("status");
    schema["required"] = json!(["apiVersion", "kind", "metadata", "spec"]);
    schema["additionalProperties"] = Value::Bool(false);
    let mut root = Map::new();
    root.insert("$schema".into(), DRAFT.into());
    root.insert(
        "$id".into(),
        format!("https://baseplate.dev/schemas/{}.json", kind.to_lowercase()).into(),
    );
    root.insert("title".into(), title.into());
    if let Value::Object(fields) = schema {
        root.extend(fields);
    }
    Value::Object(root)
}

/// What a manifest's `metadata` may say; the API server fills in the rest.
fn object_meta(namespaced: bool) -> Value {
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let mut properties = json!({
        "name": {
            "type": "string",
            "maxLength": 63,
            "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$",
            "description": "The name: a DNS-1035 label (lowercase letters, digits and '-', starting with a letter)"
        },
        "labels": string_map,
        "annotations": string_map,
    });
    if namespaced {
        properties["namespace"] = json!({
            "type": "string",
            "maxLength": 63,
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        });
    }
    json!({
        "type": "object",
        "required": ["name"],
        "properties": properties,
        "additionalProperties": false,
    })
}

/// One OpenAPI v3 (structural) schema node as JSON Schema.
fn translate(node: &Value) -> Value {
    let Value::Object(fields) = node else {
        return node.clone();
    };
    let mut out = Map::new();
    for (key, value) in fields {
        match key.as_str() {
            "properties" => {
                let properties = value
                    .as_object()
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), translate(v))).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Object(properties));
            }
            "items" | "additionalProperties" if value.is_object() => {
                out.insert(key.clone(), translate(value));
            }
            "anyOf" | "oneOf" | "allOf" => {
                let list = value
                    .as_array()
                    .map(|items| items.iter().map(translate).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Array(list));
            }
            // Kubernetes' own extensions: translated below or meaningless to an editor.
            key if key.starts_with("x-kubernetes-") || key == "nullable" => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if fields.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        out.remove("type");
        out.insert(
            "anyOf".into(),
            json!([{"type": "integer"}, {"type": "string"}]),
        );
    }
    if fields.get("nullable") == Some(&Value::Bool(true))
        && let Some(Value::String(type_)) = out.get("type").cloned()
    {
        out.insert("type".into(), json!([type_, "null"]));
    }
    let preserves_unknown =
        fields.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if out.contains_key("properties")
        && !out.contains_key("additionalProperties")
        && !preserves_unknown
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

/// Both schemas by file name, as `baseplate schema --write DIR` writes them.
pub fn files() -> Vec<(&'static str, Value)> {
    vec![
        ("app.schema.json", app()),
        ("platform.schema.json", platform()),
    ]
}

/// A schema as the committed file holds it.
pub fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("JSON values serialize");
    text.push('\n');
    text
}
