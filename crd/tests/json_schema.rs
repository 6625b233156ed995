//! The editor schemas (`baseplate schema`, committed under deploy/schemas/) check files as an
//! editor with yaml-language-server would: every example passes, structural mistakes fail.

use std::path::{Path, PathBuf};

use baseplate_crd::json_schema;
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_multiple(&text).unwrap()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).expect("the schema is valid JSON Schema")
}

fn errors(schema: &Value, document: &Value) -> Vec<String> {
    validator(schema)
        .iter_errors(document)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect()
}

#[test]
fn the_committed_schemas_are_current() {
    for (name, schema) in json_schema::files() {
        let committed = std::fs::read_to_string(repo("deploy/schemas").join(name)).unwrap();
        assert!(
            committed == json_schema::to_text(&schema),
            "deploy/schemas/{name} is stale: run `make crds`"
        );
    }
}

#[test]
fn every_example_passes_its_schema_and_names_it_for_the_editor() {
    for entry in std::fs::read_dir(repo("examples")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for document in documents(&path) {
            let kind = document["kind"].as_str().unwrap_or_default();
            let (schema, file) = match kind {
                "App" => (json_schema::app(), "app.schema.json"),
                "Platform" => (json_schema::platform(), "platform.schema.json"),
                other => panic!("{}: unexpected kind {other}", path.display()),
            };
            let found = errors(&schema, &document);
            assert!(found.is_empty(), "{}: {found:?}", path.display());
            assert!(
                text.starts_with(&format!(
                    "# yaml-language-server: $schema=../deploy/schemas/{file}\n"
                )),
                "{} lacks the schema comment",
                path.display()
            );
        }
    }
}

/// Structural mistakes: what the CRD schema itself (not CEL) refuses.
#[test]
fn structural_mistakes_are_flagged_at_their_path() {
    let app = |spec: &str| -> Value {
        serde_saphyr::from_str(&format!(
            "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {{name: web}}\nspec: {spec}\n"
        ))
        .unwrap()
    };
    let cases = [
        ("{imagee: nginx}", "/spec"),
        ("{image: nginx, replica: 3}", "/spec"),
        ("{replicas: 2}", "/spec"),
        ("{image: nginx, replicas: three}", "/spec/replicas"),
        ("{image: nginx, ports: {http: 80}}", "/spec/ports"),
        (
            "{image: nginx, ports: [{name: http, containerPort: 80, protocol: HTTP}]}",
            "/spec/ports/0/protocol",
        ),
        ("{image: nginx, env: {MODE: {nested: 1}}}", "/spec/env/MODE"),
        (
            "{image: nginx, readinessProbe: {paht: /ready}}",
            "/spec/readinessProbe",
        ),
    ];
    let schema = json_schema::app();
    for (spec, path) in cases {
        let found = errors(&schema, &app(spec));
        assert!(
            found.iter().any(|e| e.starts_with(&format!("{path}:"))),
            "{spec}: expected an error at {path}, got {found:?}"
        );
    }
    let mut typo = app("{image: nginx}");
    typo["metadata"]["lables"] = serde_json::json!({"team": "shop"});
    assert!(!errors(&schema, &typo).is_empty(), "metadata.lables");
    let mut deployment = app("{image: nginx}");
    deployment["kind"] = "Deployment".into();
    assert!(!errors(&schema, &deployment).is_empty(), "kind");
}
