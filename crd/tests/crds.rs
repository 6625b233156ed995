//! The CustomResourceDefinitions: the committed YAML is current, every CEL rule compiles and
//! stays within the API server's cost budget, and what `kubectl get` shows is declared.
//! There is no cluster here, so these are the checks the API server would make on install.

use std::path::Path;

use baseplate_crd::crds;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::{CompiledSchema, ScopeContext, WarningKind, analyze_rule, compile_schema};
use serde_json::Value;

fn crd(kind: &str) -> CustomResourceDefinition {
    crds::all()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} CRD"))
}

fn schemas() -> Vec<(String, Value)> {
    crds::all()
        .into_iter()
        .flat_map(|crd| {
            let kind = crd.spec.names.kind.clone();
            crd.spec.versions.into_iter().map(move |version| {
                let schema = version
                    .schema
                    .and_then(|s| s.open_api_v3_schema)
                    .expect("every version has a schema");
                (
                    format!("{kind} {}", version.name),
                    serde_json::to_value(schema).unwrap(),
                )
            })
        })
        .collect()
}

#[test]
fn committed_crds_are_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds.yaml");
    let committed = std::fs::read_to_string(&path).expect("deploy/crds.yaml exists");
    assert!(
        committed == crds::to_yaml(),
        "deploy/crds.yaml is stale: run `make crds` and commit the result"
    );
}

/// Every `x-kubernetes-validations` rule in a JSON schema, depth first.
fn rules_in(schema: &Value, found: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
                found.extend(
                    rules
                        .iter()
                        .map(|r| r["rule"].as_str().unwrap().to_string()),
                );
            }
            map.values().for_each(|v| rules_in(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| rules_in(v, found)),
        _ => {}
    }
}

/// Each compiled node with the rules (compiled or not) it carries, depth first.
fn walk<'a>(node: &'a CompiledSchema, visit: &mut dyn FnMut(&'a CompiledSchema)) {
    visit(node);
    node.properties
        .values()
        .for_each(|child| walk(child, visit));
    node.items
        .iter()
        .chain(&node.additional_properties)
        .for_each(|child| walk(child, visit));
    node.all_of
        .iter()
        .chain(&node.one_of)
        .chain(&node.any_of)
        .for_each(|child| walk(child, visit));
}

#[test]
fn every_cel_rule_compiles() {
    for (name, schema) in schemas() {
        let mut declared = Vec::new();
        rules_in(&schema, &mut declared);
        let compiled = compile_schema(&schema);
        let mut ok = 0;
        let mut errors = Vec::new();
        walk(&compiled, &mut |node| {
            for result in &node.validations {
                match result {
                    Ok(_) => ok += 1,
                    Err(e) => errors.push(e.to_string()),
                }
            }
        });
        assert!(
            errors.is_empty(),
            "{name}: rules that do not compile:\n{}",
            errors.join("\n")
        );
        assert_eq!(
            ok,
            declared.len(),
            "{name}: every declared rule was compiled"
        );
        let minimum = if name.starts_with("App") { 40 } else { 15 };
        assert!(
            ok >= minimum,
            "{name}: only {ok} rules; did the schema lose its validations?"
        );
    }
}

#[test]
fn no_rule_exceeds_the_cost_budget_or_uses_variables_out_of_scope() {
    for (name, schema) in schemas() {
        let compiled = compile_schema(&schema);
        let mut problems = Vec::new();
        walk(&compiled, &mut |node| {
            for result in node.validations.iter().flatten() {
                let rule = &result.rule.rule;
                for warning in analyze_rule(rule, node, ScopeContext::CrdValidation) {
                    let problem = match warning.kind {
                        WarningKind::CostExceeded => !priced_by_the_api_server(rule),
                        // kube-cel counts a macro's own variable (`all(k, ...)`) as out of scope,
                        // and a type (`type(self) == int`, as int-or-string fields are told apart).
                        WarningKind::WrongScope => {
                            !binds_macro_variable(rule, &warning.message)
                                && !names_a_type(rule, &warning.message)
                        }
                        _ => false,
                    };
                    if problem {
                        problems.push(format!("{rule}: {}", warning.message));
                    }
                }
            }
        });
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
}

/// The rules across the pod's containers (a port name or socket once in the whole pod) nest
/// comprehensions over `sidecars` and `ports`. kube-cel prices every comprehension of a node by
/// the first list field it finds there (`args`, 128 items), so it puts them far above the budget;
/// the API server prices each by its own list's bounds (10 sidecars, 20 ports) and accepts them.
/// The e2e suite installs these CRDs, which the API server refuses when any rule is over its
/// budget, so for these rules that install is the cost check.
fn priced_by_the_api_server(rule: &str) -> bool {
    rule.starts_with("!has(self.sidecars) || ")
}

/// Whether the variable a scope warning names is one the rule binds in a macro, as `k` in
/// `self.all(k, ...)`.
fn binds_macro_variable(rule: &str, message: &str) -> bool {
    let variable = message
        .split('\'')
        .nth(1)
        .expect("the warning quotes the variable");
    ["all", "exists", "exists_one", "map", "filter"]
        .iter()
        .any(|m| rule.contains(&format!(".{m}({variable},")))
}

/// Whether the variable a scope warning names is a CEL type the rule compares with `type()`.
fn names_a_type(rule: &str, message: &str) -> bool {
    let variable = message
        .split('\'')
        .nth(1)
        .expect("the warning quotes the variable");
    ["int", "uint", "double", "string", "bool", "bytes"].contains(&variable)
        && rule.contains(&format!("type(self) == {variable}"))
}

/// The schema node at `self.a.b` from `node`, through objects only.
fn resolve_path<'a>(node: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(node, |n, field| n.get("properties")?.get(*field))
}

/// `self`, `self.a`, `self.a.b`, ... as field lists, for every `self` a rule mentions.
fn self_paths(rule: &str) -> Vec<Vec<&str>> {
    let mut paths = Vec::new();
    let bytes = rule.as_bytes();
    let mut start = 0;
    while let Some(offset) = rule[start..].find("self") {
        let at = start + offset;
        start = at + 4;
        let before_ok = at == 0
            || !(bytes[at - 1].is_ascii_alphanumeric()
                || bytes[at - 1] == b'_'
                || bytes[at - 1] == b'.');
        if !before_ok {
            continue;
        }
        let mut path = Vec::new();
        let mut rest = &rule[at + 4..];
        while let Some(after_dot) = rest.strip_prefix('.') {
            let end = after_dot
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after_dot.len());
            let field = &after_dot[..end];
            // A method call such as `.all(`, not a field.
            if after_dot[end..].starts_with('(') {
                break;
            }
            path.push(field);
            rest = &after_dot[end..];
        }
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// The API server estimates a string without `maxLength` at the whole request size (3 MiB), so a
/// rule that looks at each item of such a list is estimated far over the per-rule budget, and
/// the CRD is refused on install with "estimated rule cost exceeds budget". kube-cel's estimate
/// above is coarser than the API server's and does not see this, hence this check.
#[test]
fn lists_of_strings_that_rules_look_into_have_bounded_items() {
    for (name, schema) in schemas() {
        let mut problems = Vec::new();
        check_bounds(&schema, "", &mut problems);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
}

fn check_bounds(node: &Value, at: &str, problems: &mut Vec<String>) {
    let Value::Object(map) = node else { return };
    for rule in map
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let rule = rule["rule"].as_str().unwrap();
        for path in self_paths(rule) {
            let Some(target) = resolve_path(node, &path) else {
                continue;
            };
            if target["type"] == "array" && target["items"]["type"] == "string" {
                let bounded =
                    target.get("maxItems").is_some() && target["items"].get("maxLength").is_some();
                if !bounded {
                    problems.push(format!("{at}.{}: a list of strings without maxItems and items.maxLength, used by rule {rule}", path.join(".")));
                }
            }
        }
    }
    for (key, child) in map {
        match key.as_str() {
            "properties" => {
                for (field, schema) in child.as_object().into_iter().flatten() {
                    check_bounds(schema, &format!("{at}.{field}"), problems);
                }
            }
            "items" | "additionalProperties" => check_bounds(child, &format!("{at}[]"), problems),
            _ => {}
        }
    }
}

#[test]
fn the_bounds_check_sees_an_unbounded_list() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"keys": {"type": "array", "maxItems": 64, "items": {"type": "string"}}},
        "x-kubernetes-validations": [{"rule": "self.keys.all(k, k.matches('^[A-Z]+$'))"}],
    });
    let mut problems = Vec::new();
    check_bounds(&schema, "", &mut problems);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        self_paths(
            "self.a.b.all(x, x == self.c) && size(self) > 0 && myself.d && self.a.b.size() > 0"
        ),
        [vec!["a", "b"], vec!["c"], vec![]]
    );
    assert!(binds_macro_variable(
        "self.all(k, k > 0)",
        "variable 'k' is not available"
    ));
    assert!(!binds_macro_variable(
        "self.all(k, request > 0)",
        "variable 'request' is not available"
    ));
}

#[test]
fn kubectl_get_shows_ready_replicas_url_and_age() {
    let app = crd("App");
    let columns = app.spec.versions[0]
        .additional_printer_columns
        .clone()
        .unwrap_or_default();
    let by_name = |name: &str| {
        columns
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name} column"))
    };
    assert_eq!(
        by_name("Ready").json_path,
        ".status.conditions[?(@.type==\"Ready\")].status"
    );
    assert_eq!(by_name("Replicas").json_path, ".status.replicasSummary");
    // `kubectl get apps` shows why an App is not Ready without `-o wide`.
    assert_eq!(
        by_name("Reason").json_path,
        ".status.conditions[?(@.type==\"Ready\")].reason"
    );
    assert_eq!(by_name("Reason").priority, None);
    assert_eq!(by_name("URL").json_path, ".status.url");
    assert_eq!(by_name("Age").json_path, ".metadata.creationTimestamp");
    assert_eq!(by_name("Age").type_, "date");
    // Each column's path exists in the status schema.
    let schema = serde_json::to_value(
        app.spec.versions[0]
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    for field in ["conditions", "replicasSummary", "url"] {
        assert!(
            schema["properties"]["status"]["properties"]
                .get(field)
                .is_some(),
            "status.{field}"
        );
    }
    assert!(
        app.spec.versions[0]
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some(),
        "status subresource"
    );
}

#[test]
fn status_conditions_are_a_list_map_keyed_by_type() {
    let app = crd("App");
    let schema = serde_json::to_value(
        app.spec.versions[0]
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    let conditions = &schema["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["type"], "array");
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(
        conditions["x-kubernetes-list-map-keys"],
        serde_json::json!(["type"])
    );
    // A map key must be required in every item, or the API server refuses the schema.
    let required = conditions["items"]["required"]
        .as_array()
        .expect("condition items list required fields");
    assert!(required.contains(&Value::from("type")));
}

#[test]
fn both_crds_are_structural_with_the_expected_scope_and_names() {
    let app = crd("App");
    assert_eq!(app.spec.group, "baseplate.dev");
    assert_eq!(app.spec.scope, "Namespaced");
    assert_eq!(
        app.spec.names.short_names.as_deref(),
        Some(&["bapp".to_string()][..])
    );
    let platform = crd("Platform");
    assert_eq!(platform.spec.scope, "Cluster");
    for crd in [app, platform] {
        assert_eq!(crd.spec.versions.len(), 1);
        let version = &crd.spec.versions[0];
        assert!(version.served && version.storage);
        let schema = serde_json::to_value(
            version
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            schema["properties"]["spec"]["type"], "object",
            "{}",
            crd.spec.names.kind
        );
    }
}

/// Every object the API server could prune silently: an object node that lists neither its
/// fields nor a map's values, or that keeps unknown fields. With none, strict field
/// validation (`kubectl apply`'s default) refuses a typo anywhere, the embedded Kubernetes
/// types included, and `baseplate render`'s walk over the same schema does too.
fn free_form_objects(node: &Value, at: &str, found: &mut Vec<String>) {
    let Value::Object(map) = node else { return };
    if map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        found.push(format!("{at}: x-kubernetes-preserve-unknown-fields"));
    }
    if map.get("type") == Some(&Value::from("object"))
        && !map.contains_key("properties")
        && !map.contains_key("additionalProperties")
    {
        found.push(format!("{at}: an object without properties"));
    }
    for (field, child) in map
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        free_form_objects(child, &format!("{at}.{field}"), found);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = map.get(key) {
            free_form_objects(child, &format!("{at}[]"), found);
        }
    }
}

#[test]
fn no_object_in_either_crd_keeps_or_drops_unknown_fields_silently() {
    let mut found = Vec::new();
    free_form_objects(
        &serde_json::json!({"type": "object", "properties": {
            "a": {"type": "object"},
            "b": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {}},
        }}),
        "",
        &mut found,
    );
    assert_eq!(
        found.len(),
        2,
        "the check sees free-form objects: {found:?}"
    );
    for (name, schema) in schemas() {
        let mut found = Vec::new();
        free_form_objects(&schema, "", &mut found);
        assert!(found.is_empty(), "{name}:\n{}", found.join("\n"));
        // The embedded Kubernetes types are spelled out down to their leaves.
        if name.starts_with("Platform") {
            let defaults = &schema["properties"]["spec"]["properties"]["defaults"]["properties"];
            for path in [
                &defaults["containerSecurityContext"]["properties"]["capabilities"]["properties"]["drop"],
                &defaults["podSecurityContext"]["properties"]["seccompProfile"]["properties"]["type"],
                &schema["properties"]["spec"]["properties"]["namespaceSelector"]["properties"]["matchExpressions"]
                    ["items"]["properties"]["operator"],
            ] {
                assert!(path.is_object(), "{name}: {path}");
            }
        }
    }
}

/// The guardrail rules sit on every field they guard, so `kubectl apply` and `baseplate render`
/// (which evaluates these very rules exactly) refuse the same values.
#[test]
fn every_image_quantity_and_registry_entry_carries_its_rule() {
    use baseplate_crd::{image, quantity};
    let rules_at = |schema: &Value, path: &[&str]| {
        let node = path.iter().fold(schema, |node, step| match *step {
            "[]" => &node["items"],
            field => &node["properties"][field],
        });
        let mut rules = Vec::new();
        for rule in node["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            rules.push(rule["rule"].as_str().unwrap().to_string());
            assert!(
                rule.get("messageExpression").is_none() || rule.get("message").is_some(),
                "{path:?}: a messageExpression needs a message for the API server to fall back to"
            );
        }
        rules
    };
    let schema = |kind: &str| {
        schemas()
            .into_iter()
            .find(|(name, _)| name.starts_with(kind))
            .unwrap()
            .1
    };
    let app = schema("App");
    let platform = schema("Platform");
    let resources = ["cpu", "memory", "cpuLimit", "memoryLimit"];
    for path in [
        vec!["spec", "image"],
        vec!["spec", "sidecars", "[]", "image"],
    ] {
        assert!(
            rules_at(&app, &path).contains(&image::IMAGE_RULE.to_string()),
            "{path:?}"
        );
    }
    for field in resources {
        for path in [
            vec!["spec", "resources", field],
            vec!["spec", "sidecars", "[]", "resources", field],
        ] {
            assert!(
                rules_at(&app, &path).contains(&quantity::POSITIVE_RULE.to_string()),
                "{path:?}"
            );
        }
        let path = ["spec", "defaults", "resources", field];
        assert!(
            rules_at(&platform, &path).contains(&quantity::POSITIVE_RULE.to_string()),
            "{path:?}"
        );
    }
    for field in ["maxCpu", "maxMemory"] {
        let path = ["spec", "limits", field];
        assert!(
            rules_at(&platform, &path).contains(&quantity::POSITIVE_RULE.to_string()),
            "{path:?}"
        );
    }
    let entries = ["spec", "limits", "allowedRegistries", "[]"];
    assert_eq!(rules_at(&platform, &entries), [image::ENTRY_RULE]);
}
