//! CEL rules for the securityContexts a Platform sets: values the API server refuses in a pod
//! (`ValidatePodSecurityContext`, `ValidateSecurityContext`) are refused when the Platform is
//! applied, not when the first App's Deployment is.
//!
//! The fields are k8s-openapi's types, whose schema says only which fields exist; these rules
//! sit on the fields that hold them.

use serde_json::Value;

use crate::cel_rule::{all, rule};

/// A user or group ID as Linux and the API server take it.
macro_rules! id_rule {
    ($field:literal) => {
        concat!(
            "!has(self.",
            $field,
            ") || (self.",
            $field,
            " >= 0 && self.",
            $field,
            " <= 2147483647)"
        )
    };
}

const SECCOMP_RULE: &str = "!has(self.seccompProfile) || ((self.seccompProfile.type in ['RuntimeDefault', 'Unconfined', 'Localhost']) && ((self.seccompProfile.type == 'Localhost') == has(self.seccompProfile.localhostProfile)))";
const SECCOMP_MESSAGE: &str = "seccompProfile.type must be RuntimeDefault, Unconfined or Localhost, and localhostProfile is set exactly when it is Localhost";

fn id(field: &str, rule_text: &str) -> Value {
    rule(
        rule_text,
        &format!(
            "{field} must be a user or group ID from 0 to 2147483647 (negative IDs do not exist)"
        ),
        Some(&format!(".{field}")),
    )
}

/// The rules of `podSecurityContext`.
pub fn pod_rules() -> Value {
    all([
        id("runAsUser", id_rule!("runAsUser")),
        id("runAsGroup", id_rule!("runAsGroup")),
        id("fsGroup", id_rule!("fsGroup")),
        // No upper bound here: over a list of unbounded length it costs more than the API
        // server's CEL budget allows (the kubelet refuses such IDs).
        rule(
            "!has(self.supplementalGroups) || self.supplementalGroups.all(g, g >= 0)",
            "supplementalGroups must be group IDs of 0 or more (negative IDs do not exist)",
            Some(".supplementalGroups"),
        ),
        rule(SECCOMP_RULE, SECCOMP_MESSAGE, Some(".seccompProfile")),
        rule(
            "!has(self.fsGroupChangePolicy) || self.fsGroupChangePolicy in ['OnRootMismatch', 'Always']",
            "fsGroupChangePolicy must be OnRootMismatch or Always",
            Some(".fsGroupChangePolicy"),
        ),
    ])
}

/// The rules of `containerSecurityContext`.
pub fn container_rules() -> Value {
    all([
        id("runAsUser", id_rule!("runAsUser")),
        id("runAsGroup", id_rule!("runAsGroup")),
        rule(
            "!(has(self.privileged) && self.privileged && has(self.allowPrivilegeEscalation) && !self.allowPrivilegeEscalation)",
            "privileged: true with allowPrivilegeEscalation: false is a contradiction the API server refuses; drop privileged or allow privilege escalation",
            Some(".allowPrivilegeEscalation"),
        ),
        rule(SECCOMP_RULE, SECCOMP_MESSAGE, Some(".seccompProfile")),
        rule(
            "!has(self.procMount) || self.procMount in ['Default', 'Unmasked']",
            "procMount must be Default or Unmasked",
            Some(".procMount"),
        ),
    ])
}
