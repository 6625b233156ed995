//! CEL rules whose message quotes the offending value.
//!
//! kube's `Rule` carries a message or a message expression, not both; the API server falls back
//! from a failing (or multi-line) `messageExpression` to `message`, so a rule that quotes the value
//! needs both. Such rules are written into the schema with `#[schemars(extend(...))]`.

use serde_json::{Value, json};

/// One `x-kubernetes-validations` list: `rule`, `message`, and the same message followed by
/// `(got "<value>")`. Only for string fields, whose value is `self`.
pub fn quoting_value(rule: &str, message: &str) -> Value {
    json!([{
        "rule": rule,
        "message": message,
        "messageExpression": format!("'{} (got \"' + self + '\")'", escape(message)),
    }])
}

/// The message a [`quoting_value`] rule gives for `value`.
pub fn message_for(message: &str, value: &str) -> String {
    format!("{message} (got \"{value}\")")
}

/// A CEL single-quoted string literal's content.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
}

/// One rule over every key `k` of a map, whose message quotes the first key that breaks it.
pub fn on_keys(predicate: &str, message: &str) -> Value {
    json!({
        "rule": format!("self.all(k, {predicate})"),
        "message": message,
        "messageExpression": format!(
            "'{} (got \"' + self.filter(k, !({predicate}))[0] + '\")'",
            escape(message)
        ),
    })
}

/// Several rules as one `x-kubernetes-validations` list.
pub fn all(rules: impl IntoIterator<Item = Value>) -> Value {
    Value::Array(rules.into_iter().collect())
}

/// One rule with a plain message and, where the field path is not the rule's node, the path.
pub fn rule(rule: &str, message: &str, field_path: Option<&str>) -> Value {
    let mut value = json!({"rule": rule, "message": message});
    if let Some(path) = field_path {
        value["fieldPath"] = json!(path);
    }
    value
}
