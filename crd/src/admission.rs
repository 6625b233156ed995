//! The API server's admission checks, evaluated offline, so `baseplate render` rejects what
//! `kubectl apply` would: the schema's size limits (`maxLength`, `maxItems`,
//! `maxProperties`, `pattern`, `enum`) and the CRDs' CEL rules, run client-side through kube's
//! `cel` feature.
//!
//! Where kube's client-side CEL is looser than the API server's, the rule is evaluated by
//! Baseplate's exact implementation instead, wherever the schema attaches it: quantities
//! (kube-cel trims the spaces the API server refuses) and image references (the grammar; Docker's
//! 255-character name limit, which the CEL rule cannot compute, is resolution's, see
//! [`crate::child_rules`]).

use kube::core::cel;
use serde_json::Value;

use crate::app::App;
use crate::error::FieldError;
use crate::image::{IMAGE_RULE, ImageRef};
use crate::int_or_percent;
use crate::platform::Platform;
use crate::quantity;
use crate::schemas::Checked;

/// Every schema limit and CEL rule of the App CRD that this App breaks.
pub fn check_app(app: &App) -> Vec<FieldError> {
    check(app)
}

/// Every schema limit and CEL rule of the Platform CRD that this Platform breaks.
pub fn check_platform(platform: &Platform) -> Vec<FieldError> {
    check(platform)
}

fn check<K: Checked>(object: &K) -> Vec<FieldError> {
    let value = serde_json::to_value(object).expect("resources serialize");
    let mut walk = Walk::default();
    walk.check(K::schema(), &value, "");
    let Walk {
        mut errors,
        exact_rules,
    } = walk;
    // A list or map over its schema's count limit is refused on that alone: the CEL rules'
    // cost grows with the counts the limits bound (a rule comparing every port with every
    // other is quadratic), so evaluating them then would be the slow path an attacker picks.
    if errors.iter().any(is_over_a_count_limit) {
        return sorted(errors);
    }
    let cel = match K::validate_cel(&value) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_vec(),
    };
    // kube-cel's verdict on a rule Baseplate evaluated exactly is dropped, pass or fail.
    errors.extend(
        cel.into_iter()
            .filter(|e| {
                !exact_rules.iter().any(|(node, rule)| {
                    e.rule == *rule
                        && (e.field_path == *node || e.field_path.starts_with(&format!("{node}.")))
                })
            })
            .map(to_field_error),
    );
    sorted(errors)
}

fn is_over_a_count_limit(error: &FieldError) -> bool {
    error.message.starts_with(TOO_MANY)
}

const TOO_MANY: &str = "Too many: ";

#[derive(Default)]
struct Walk {
    errors: Vec<FieldError>,
    /// (path of the schema node, rule) of every rule evaluated exactly.
    exact_rules: Vec<(String, String)>,
}

impl Walk {
    /// Checks the schema's limits along one value, in the API server's words.
    fn check(&mut self, schema: &Value, value: &Value, path: &str) {
        let child = |segment: &str| {
            if path.is_empty() {
                segment.to_string()
            } else {
                format!("{path}.{segment}")
            }
        };
        let limit = |key: &str| schema[key].as_u64();
        self.check_int_or_percent(schema, value, path);
        match value {
            Value::Object(fields) => {
                if let Some(max) = limit("maxProperties")
                    && fields.len() as u64 > max
                {
                    self.errors.push(FieldError::new(
                        path,
                        format!("{TOO_MANY}{}: must have at most {max} items", fields.len()),
                    ));
                }
                for (key, field) in fields {
                    let field_schema = schema["properties"]
                        .get(key)
                        .or_else(|| schema.get("additionalProperties").filter(|s| s.is_object()));
                    if let Some(field_schema) = field_schema {
                        self.check(field_schema, field, &child(key));
                    }
                }
                self.check_object_rules(schema, fields, path);
            }
            Value::Array(items) => {
                if let Some(max) = limit("maxItems")
                    && items.len() as u64 > max
                {
                    self.errors.push(FieldError::new(
                        path,
                        format!("{TOO_MANY}{}: must have at most {max} items", items.len()),
                    ));
                }
                for (index, item) in items.iter().enumerate() {
                    self.check(&schema["items"], item, &format!("{path}[{index}]"));
                }
            }
            Value::String(text) => self.check_string(schema, text, path),
            _ => {}
        }
    }

    fn check_string(&mut self, schema: &Value, text: &str, path: &str) {
        if let Some(max) = schema["maxLength"].as_u64()
            && text.chars().count() as u64 > max
        {
            self.errors.push(FieldError::new(
                path,
                format!("Too long: may not be more than {max} bytes"),
            ));
        }
        if let Some(pattern) = schema["pattern"].as_str()
            && regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(text))
        {
            self.errors.push(FieldError::new(
                path,
                format!("Invalid value: {text:?}: should match '{pattern}'"),
            ));
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.iter().any(|v| v == text)
        {
            let supported: Vec<String> = allowed.iter().map(Value::to_string).collect();
            self.errors.push(FieldError::new(
                path,
                format!(
                    "Unsupported value: {text:?}: supported values: {}",
                    supported.join(", ")
                ),
            ));
        }
        for rule in schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let message = rule["message"].as_str().unwrap_or_default();
            let problem = match rule["rule"].as_str() {
                Some(quantity::POSITIVE_RULE) => quantity::check_positive(text)
                    .err()
                    .map(|reason| format!("{message} (got {text:?}; {reason})")),
                // The name's length is the API server's to store and resolution's to refuse.
                Some(IMAGE_RULE) => ImageRef::parse(text)
                    .err()
                    .filter(|e| !e.is_only_too_long())
                    .map(|e| e.to_string()),
                _ => continue,
            };
            self.exact_rules.push((
                path.to_string(),
                rule["rule"].as_str().unwrap_or_default().to_string(),
            ));
            if let Some(problem) = problem {
                self.errors.push(FieldError::new(path, problem));
            }
        }
    }

    /// Counts-or-percentages, whose rules kube-cel cannot evaluate (`type()`).
    fn check_int_or_percent(&mut self, schema: &Value, value: &Value, path: &str) {
        for rule in schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let text = rule["rule"].as_str().unwrap_or_default();
            let Some(passes) = int_or_percent::passes(text, value) else {
                continue;
            };
            self.exact_rules.push((path.to_string(), text.to_string()));
            if !passes {
                let message = rule["message"].as_str().unwrap_or_default();
                self.errors
                    .push(FieldError::new(path, format!("{message} (got {value})")));
            }
        }
    }

    /// The rules of an object node that Baseplate evaluates exactly: a limit against its
    /// request, compared as the API server's `compareTo` does, whatever their size (kube-cel's
    /// quantities overflow where the API server's do not).
    fn check_object_rules(
        &mut self,
        schema: &Value,
        fields: &serde_json::Map<String, Value>,
        path: &str,
    ) {
        for rule in schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let text = rule["rule"].as_str().unwrap_or_default();
            let (request, limit) = match text {
                quantity::CPU_LIMIT_RULE => ("cpu", "cpuLimit"),
                quantity::MEMORY_LIMIT_RULE => ("memory", "memoryLimit"),
                _ => continue,
            };
            self.exact_rules.push((path.to_string(), text.to_string()));
            let (Some(request_value), Some(limit_value)) = (
                fields.get(request).and_then(Value::as_str),
                fields.get(limit).and_then(Value::as_str),
            ) else {
                continue;
            };
            if quantity::limit_below_request(request_value, limit_value) == Some(true) {
                self.errors.push(FieldError::new(
                    format!("{path}.{limit}"),
                    quantity::limit_message(request, limit, request_value, limit_value),
                ));
            }
        }
    }
}

fn to_field_error(e: cel::ValidationError) -> FieldError {
    let field = if e.field_path.is_empty() {
        "metadata.name".to_string()
    } else {
        e.field_path
    };
    FieldError::new(field, e.message)
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
