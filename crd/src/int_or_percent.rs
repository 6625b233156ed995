//! Counts-or-percentages (`IntOrString` fields: rollingUpdate's maxSurge and maxUnavailable, the
//! PDB's maxUnavailable), as a Deployment and a PodDisruptionBudget take them. The CEL rules tell
//! a number from a string with `type()`, which kube's client-side CEL does not support, so
//! `baseplate render` evaluates them here instead (see [`crate::admission`]).

use serde_json::Value;

/// A whole number of 0 or more, or a percentage from 0% to 100% (rolling updates).
pub const FROM_ZERO_RULE: &str =
    "type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')";
/// A whole number of 1 or more, or a percentage from 1% to 100% (a PDB's maxUnavailable).
pub const FROM_ONE_RULE: &str =
    "type(self) == int ? self >= 1 : self.matches('^(100|[1-9][0-9]?)%$')";

/// Whether `value` passes `rule`, when `rule` is one of this module's; `None` otherwise.
pub fn passes(rule: &str, value: &Value) -> Option<bool> {
    let min = match rule {
        FROM_ZERO_RULE => 0,
        FROM_ONE_RULE => 1,
        _ => return None,
    };
    Some(match value {
        Value::Number(n) => n.as_i64().is_some_and(|n| n >= min),
        Value::String(text) => text
            .strip_suffix('%')
            .filter(|digits| {
                !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && (digits.len() == 1 || !digits.starts_with('0'))
            })
            .and_then(|digits| digits.parse::<i64>().ok())
            .is_some_and(|n| (min..=100).contains(&n)),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_and_percentages_as_the_rules_read_them() {
        for fine in [json!(0), json!(5), json!("0%"), json!("25%"), json!("100%")] {
            assert_eq!(passes(FROM_ZERO_RULE, &fine), Some(true), "{fine}");
        }
        for refused in [
            json!(-1),
            json!("5"),
            json!("101%"),
            json!("-10%"),
            json!("05%"),
            json!("%"),
            json!("half"),
        ] {
            assert_eq!(passes(FROM_ZERO_RULE, &refused), Some(false), "{refused}");
        }
        assert_eq!(passes(FROM_ONE_RULE, &json!(0)), Some(false));
        assert_eq!(passes(FROM_ONE_RULE, &json!("0%")), Some(false));
        assert_eq!(passes(FROM_ONE_RULE, &json!("1%")), Some(true));
        assert_eq!(passes("self > 0", &json!(1)), None);
    }
}
