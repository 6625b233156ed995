//! CEL rules for the HorizontalPodAutoscaler types an App or a Platform embeds
//! (`autoscaling.metrics`, `autoscaling.behavior`): what the API server's HPA validation would
//! refuse when the HPA is applied is refused when the App or the Platform is.
//!
//! The fields are k8s-openapi's types, whose schema says only which fields exist; these rules
//! sit on the fields that hold them.

use serde_json::Value;

use crate::cel_rule::{all, rule};

/// Each metric source (field of a `MetricSpec`), its `type`, and the target types the HPA
/// accepts for it (`ValidateMetricSpec` in the API server).
const SOURCES: [(&str, &str, &[&str]); 5] = [
    ("resource", "Resource", &["Utilization", "AverageValue"]),
    (
        "containerResource",
        "ContainerResource",
        &["Utilization", "AverageValue"],
    ),
    ("pods", "Pods", &["AverageValue"]),
    ("object", "Object", &["Value", "AverageValue"]),
    ("external", "External", &["Value", "AverageValue"]),
];

/// The field of a `MetricTarget` that carries the number of each target type.
const TARGET_VALUES: [(&str, &str); 3] = [
    ("Utilization", "averageUtilization"),
    ("Value", "value"),
    ("AverageValue", "averageValue"),
];

/// The rules of `autoscaling.metrics` (the list).
pub fn metric_rules() -> Value {
    let types = SOURCES
        .iter()
        .map(|(_, ty, _)| format!("'{ty}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let one_source = SOURCES
        .iter()
        .map(|(field, ty, _)| format!("((m.type == '{ty}') == has(m.{field}))"))
        .collect::<Vec<_>>()
        .join(" && ");
    let targets = SOURCES
        .iter()
        .map(|(field, _, allowed)| {
            let fits = allowed
                .iter()
                .map(|ty| {
                    let (_, value) = TARGET_VALUES
                        .iter()
                        .find(|(t, _)| t == ty)
                        .expect("every target type has its value field");
                    format!("(m.{field}.target.type == '{ty}' && has(m.{field}.target.{value}))")
                })
                .collect::<Vec<_>>()
                .join(" || ");
            format!("(!has(m.{field}) || {fits})")
        })
        .collect::<Vec<_>>()
        .join(" && ");
    all([
        rule(
            &format!("self.all(m, m.type in [{types}])"),
            "autoscaling.metrics[].type must be Resource, Pods, Object, External or ContainerResource",
            None,
        ),
        rule(
            &format!("self.all(m, {one_source})"),
            "each entry of autoscaling.metrics sets exactly the source its type names, as in an HPA: type: External with external: {metric: ..., target: ...}",
            None,
        ),
        rule(
            &format!("self.all(m, {targets})"),
            "an autoscaling.metrics target must set the number its type names (Utilization: averageUtilization, Value: value, AverageValue: averageValue), and Pods metrics take only AverageValue, Object and External only Value or AverageValue, Resource and ContainerResource only Utilization or AverageValue",
            None,
        ),
        rule(
            "self.all(m, (!has(m.resource) || !has(m.resource.target.averageUtilization) || m.resource.target.averageUtilization >= 1) && (!has(m.containerResource) || !has(m.containerResource.target.averageUtilization) || m.containerResource.target.averageUtilization >= 1))",
            "autoscaling.metrics averageUtilization must be at least 1 (percent of the request)",
            None,
        ),
    ])
}

/// Rules of one scaling direction (`scaleUp` or `scaleDown`) of `autoscaling.behavior`, the
/// bounds of the API server's `validateScalingRules`.
fn direction_rules(direction: &str) -> [Value; 4] {
    let d = format!("self.{direction}");
    [
        rule(
            &format!(
                "!has({d}) || !has({d}.stabilizationWindowSeconds) || ({d}.stabilizationWindowSeconds >= 0 && {d}.stabilizationWindowSeconds <= 3600)"
            ),
            &format!(
                "autoscaling.behavior.{direction}.stabilizationWindowSeconds must be between 0 and 3600"
            ),
            Some(&format!(".{direction}.stabilizationWindowSeconds")),
        ),
        rule(
            &format!(
                "!has({d}) || !has({d}.selectPolicy) || {d}.selectPolicy in ['Max', 'Min', 'Disabled']"
            ),
            &format!("autoscaling.behavior.{direction}.selectPolicy must be Max, Min or Disabled"),
            Some(&format!(".{direction}.selectPolicy")),
        ),
        rule(
            &format!(
                "!has({d}) || !has({d}.policies) || {d}.policies.all(p, p.type in ['Pods', 'Percent'] && p.value >= 1 && p.periodSeconds >= 1 && p.periodSeconds <= 1800)"
            ),
            &format!(
                "each autoscaling.behavior.{direction}.policies entry needs type Pods or Percent, a value of at least 1 and periodSeconds from 1 to 1800"
            ),
            Some(&format!(".{direction}.policies")),
        ),
        rule(
            &format!(
                "!has({d}) || !has({d}.policies) || size({d}.policies) > 0 || (has({d}.selectPolicy) && {d}.selectPolicy == 'Disabled')"
            ),
            &format!(
                "autoscaling.behavior.{direction}.policies must not be empty unless selectPolicy is Disabled; leave policies out for Kubernetes' defaults"
            ),
            Some(&format!(".{direction}.policies")),
        ),
    ]
}

/// The rules of `autoscaling.behavior`.
pub fn behavior_rules() -> Value {
    all(direction_rules("scaleUp")
        .into_iter()
        .chain(direction_rules("scaleDown")))
}
