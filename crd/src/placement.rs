//! Where pods may run: `nodeSelector`, `tolerations`, `affinity` and `priorityClassName`, set
//! per App or as a Platform default. Each is taken as a whole from the highest layer that sets
//! it (an App's `tolerations` replace the Platform's, they are not added to them), so an App can
//! also clear a Platform's value with an empty one. The built-in topology spread is separate and
//! applies beside them.
//!
//! These are the CEL rules of the fields both an App and a Platform carry, so that what the API
//! server would refuse in the Deployment's pod template is refused when the App or the Platform
//! is applied.

use serde_json::{Value, json};

use crate::cel_rule::{all, on_keys, rule};
use crate::labels;

/// The rules of a `nodeSelector` map: its keys are label keys.
pub fn node_selector_rules() -> Value {
    all([on_keys(
        labels::KEY_PREDICATE,
        &format!("nodeSelector {}", labels::KEYS_MESSAGE),
    )])
}

/// The schema of a `nodeSelector` value: a label value (by pattern: a regex over every value
/// of a map is beyond the API server's CEL cost budget).
pub fn node_selector_values() -> Value {
    json!({"type": "string", "maxLength": 63, "pattern": labels::VALUE_PATTERN})
}

/// The rules of a `tolerations` list, as the API server's `validateTolerations`.
pub fn toleration_rules() -> Value {
    all([
        rule(
            "self.all(t, !has(t.operator) || t.operator in ['Exists', 'Equal'])",
            "tolerations[].operator must be Exists or Equal (Equal when left out)",
            None,
        ),
        rule(
            "self.all(t, !has(t.effect) || t.effect in ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])",
            "tolerations[].effect must be NoSchedule, PreferNoSchedule or NoExecute, or left out for all effects",
            None,
        ),
        rule(
            "self.all(t, !has(t.operator) || t.operator != 'Exists' || !has(t.value) || t.value == '')",
            "a toleration with operator Exists takes no value; remove the value or use operator Equal",
            None,
        ),
        rule(
            "self.all(t, (has(t.key) && t.key != '') || (has(t.operator) && t.operator == 'Exists'))",
            "a toleration without a key must have operator Exists (it then tolerates every taint); add the taint's key",
            None,
        ),
        rule(
            "self.all(t, !has(t.tolerationSeconds) || (has(t.effect) && t.effect == 'NoExecute'))",
            "tolerations[].tolerationSeconds only applies to effect NoExecute; set effect: NoExecute or remove tolerationSeconds",
            None,
        ),
    ])
}
