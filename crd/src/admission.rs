//! The API server's admission checks, evaluated offline, so `baseplate render` rejects what
//! `kubectl apply` would: the schema's size limits (`maxLength`, `maxItems`,
//! `maxProperties`, `pattern`) and the CRDs' CEL rules, run client-side through kube's `cel` feature.

use kube::CustomResourceExt;
use kube::core::cel;
use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::error::FieldError;
use crate::platform::Platform;

/// Every schema limit and CEL rule of the App CRD that this App breaks.
pub fn check_app(app: &App) -> Vec<FieldError> {
    let mut errors = size_limits::<App>(app);
    // A list or map over its schema's count limit is refused on that alone: the CEL rules'
    // cost grows with the counts the limits bound (a rule comparing every port with every
    // other is quadratic), so evaluating them then would be the slow path an attacker picks.
    if !errors.iter().any(is_over_a_count_limit) {
        errors.extend(to_field_errors(cel::validate_cel(app)));
    }
    sorted(errors)
}

/// Every schema limit and CEL rule of the Platform CRD that this Platform breaks.
pub fn check_platform(platform: &Platform) -> Vec<FieldError> {
    let mut errors = size_limits::<Platform>(platform);
    // A list or map over its schema's count limit is refused on that alone: the CEL rules'
    // cost grows with the counts the limits bound (a rule comparing every port with every
    // other is quadratic), so evaluating them then would be the slow path an attacker picks.
    if !errors.iter().any(is_over_a_count_limit) {
        errors.extend(to_field_errors(cel::validate_cel(platform)));
    }
    sorted(errors)
}

fn is_over_a_count_limit(error: &FieldError) -> bool {
    error.message.starts_with(TOO_MANY)
}

const TOO_MANY: &str = "Too many: ";

fn size_limits<K: CustomResourceExt + Serialize>(object: &K) -> Vec<FieldError> {
    let crd = serde_json::to_value(K::crd()).expect("CRDs serialize");
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let value = serde_json::to_value(object).expect("resources serialize");
    let mut errors = Vec::new();
    walk(schema, &value, "", &mut errors);
    errors
}

/// Checks the size limits along one value and its schema, in the API server's words.
fn walk(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let child = |segment: &str| {
        if path.is_empty() {
            segment.to_string()
        } else {
            format!("{path}.{segment}")
        }
    };
    let limit = |key: &str| schema[key].as_u64();
    match value {
        Value::Object(fields) => {
            if let Some(max) = limit("maxProperties")
                && fields.len() as u64 > max
            {
                errors.push(FieldError::new(
                    path,
                    format!("{TOO_MANY}{}: must have at most {max} items", fields.len()),
                ));
            }
            for (key, field) in fields {
                let field_schema = schema["properties"]
                    .get(key)
                    .or_else(|| schema.get("additionalProperties").filter(|s| s.is_object()));
                if let Some(field_schema) = field_schema {
                    walk(field_schema, field, &child(key), errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = limit("maxItems")
                && items.len() as u64 > max
            {
                errors.push(FieldError::new(
                    path,
                    format!("{TOO_MANY}{}: must have at most {max} items", items.len()),
                ));
            }
            for (index, item) in items.iter().enumerate() {
                walk(&schema["items"], item, &format!("{path}[{index}]"), errors);
            }
        }
        Value::String(text) => {
            if let Some(max) = limit("maxLength")
                && text.chars().count() as u64 > max
            {
                errors.push(FieldError::new(
                    path,
                    format!("Too long: may not be more than {max} bytes"),
                ));
            }
            if let Some(pattern) = schema["pattern"].as_str()
                && regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(text))
            {
                errors.push(FieldError::new(
                    path,
                    format!("Invalid value: {text:?}: should match '{pattern}'"),
                ));
            }
        }
        _ => {}
    }
}

fn to_field_errors(result: Result<(), cel::ValidationErrors>) -> Vec<FieldError> {
    let Err(errors) = result else {
        return Vec::new();
    };
    errors
        .into_vec()
        .into_iter()
        .map(|e| {
            let field = if e.field_path.is_empty() {
                "metadata.name".to_string()
            } else {
                e.field_path
            };
            FieldError::new(field, e.message)
        })
        .collect()
}

fn sorted(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.sort_by(|a, b| (&a.field, &a.message).cmp(&(&b.field, &b.message)));
    errors.dedup();
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(spec: &str) -> App {
        let yaml = format!(
            "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {{name: a}}\nspec:\n{spec}"
        );
        serde_saphyr::from_str(&yaml).unwrap()
    }

    #[test]
    fn too_many_ports_is_refused_offline_as_the_api_server_would() {
        let ports: Vec<String> = (1..=21)
            .map(|i| format!("{{name: p{i}, containerPort: {i}}}"))
            .collect();
        let errors = check_app(&app(&format!(
            "  image: nginx\n  ports: [{}]\n",
            ports.join(", ")
        )));
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.ports" && e.message.contains("at most 20")),
            "{errors:?}"
        );
    }

    #[test]
    fn too_long_strings_and_too_many_sidecars_are_refused() {
        let sidecars: Vec<String> = (1..=11)
            .map(|i| format!("{{name: s{i}, image: busybox}}"))
            .collect();
        let long_port = "x".repeat(16);
        let errors = check_app(&app(&format!(
            "  image: nginx\n  ports: [{{name: {long_port}, containerPort: 80}}]\n  sidecars: [{}]\n",
            sidecars.join(", ")
        )));
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.sidecars" && e.message.contains("at most 10")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.ports[0].name" && e.message.contains("Too long")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_pod_label_value_kubernetes_would_refuse_is_refused() {
        let errors = check_app(&app(
            "  image: nginx\n  podLabels: {team: \"-payments-\"}\n",
        ));
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.podLabels.team" && e.message.contains("should match")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_valid_app_has_no_errors() {
        assert_eq!(
            check_app(&app(
                "  image: nginx\n  ports: [{name: http, containerPort: 80}]\n"
            )),
            vec![]
        );
    }
}
