//! The schema of a Platform's `namespaceSelector`.
//!
//! The field is k8s-openapi's `LabelSelector`, but its generated schema only says which fields
//! exist. The API server checks the selectors of its own objects (`ValidateLabelSelector`); a
//! custom resource gets none of that, and a selector with a typo matches nothing, which is how
//! a production limit silently disappears. This schema adds those checks as CEL, so `kubectl
//! apply` refuses them and `baseplate render` (which runs the same CEL) does too: an operator
//! other than `In`, `NotIn`, `Exists`, `DoesNotExist`; `In`/`NotIn` without values;
//! `Exists`/`DoesNotExist` with values; a key that is not a label key; a value that is not a
//! label value. Unknown fields (`matchLabel`) are refused by the structural schema itself.

use std::collections::BTreeMap;

use kube::KubeSchema;
use serde::Serialize;

/// A label key: an optional DNS-subdomain prefix of at most 253 characters and `/`, then a name
/// of at most 63 characters.
pub const KEY_RULE: &str = concat!(
    "self.matches('",
    crate::labels::key_pattern!(),
    "') && self.indexOf('/') <= 253"
);
pub const KEY_MESSAGE: &str = "a selector key must be a label key: an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit (e.g. kubernetes.io/metadata.name or team)";

/// Schema only: the wire type stays `LabelSelector`.
#[allow(dead_code)] // never built: only its schema is used
#[derive(KubeSchema, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelectorSchema {
    /// matchLabels is a map of {key,value} pairs. A single {key,value} in the matchLabels map is
    /// equivalent to an element of matchExpressions, whose key field is "key", the operator is
    /// "In", and the values array contains only "value". The requirements are ANDed.
    // Label values by pattern: a regex over every value of a map is beyond the CEL cost budget.
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 63, "pattern": crate::labels::VALUE_PATTERN}))]
    match_labels: Option<BTreeMap<String, String>>,
    /// matchExpressions is a list of label selector requirements. The requirements are ANDed.
    #[schemars(length(max = 32))]
    match_expressions: Option<Vec<RequirementSchema>>,
}

/// A label selector requirement is a selector that contains values, a key, and an operator that
/// relates the key and values.
#[allow(dead_code)] // never built: only its schema is used
#[derive(KubeSchema, Serialize)]
#[x_kube(
    validation = Rule::new("!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)")
        .message("operator In and NotIn need at least one entry in values; list the label values to match")
        .field_path(".values"),
    validation = Rule::new("!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0")
        .message("operator Exists and DoesNotExist take no values; remove values")
        .field_path(".values"),
)]
pub struct RequirementSchema {
    /// key is the label key that the selector applies to.
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(KEY_RULE, KEY_MESSAGE)))]
    #[schemars(length(max = 317))]
    key: String,
    /// operator represents a key's relationship to a set of values: In, NotIn, Exists or
    /// DoesNotExist.
    operator: Operator,
    /// values is an array of string values. If the operator is In or NotIn, the values array must
    /// be non-empty. If the operator is Exists or DoesNotExist, the values array must be empty.
    #[schemars(length(max = 64), inner(length(max = 63), regex(pattern = crate::labels::VALUE_PATTERN)))]
    values: Option<Vec<String>>,
}

#[derive(schemars::JsonSchema, Serialize)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}
