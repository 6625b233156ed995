//! Typed errors of validation, policy and rendering. Each names the field and the fix.

use std::fmt;

/// One problem with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the offending field, e.g. `spec.autoscaling.maxReplicas`.
    pub field: String,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A guardrail an App crosses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyViolation {
    pub field: String,
    pub message: String,
    /// The Platform whose `limits` set the guardrail.
    pub platform: String,
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (limit set by platform/{})",
            self.field, self.message, self.platform
        )
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(|i| format!("\n  - {i}")).collect()
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The App (or a Platform default it inherits) is not valid.
    #[error("invalid App:{}", join(.0))]
    InvalidSpec(Vec<FieldError>),
    /// The App is valid but crosses a Platform guardrail.
    #[error("App violates platform limits:{}", join(.0))]
    PolicyViolation(Vec<PolicyViolation>),
    /// The caller did not provide a value for a key the App asks Baseplate to generate.
    #[error(
        "no value for generated secret key {0}: fill SecretState with SecretState::generate_missing first"
    )]
    GeneratedSecretMissing(String),
}

/// Problems found while reading or validating manifests.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{source_name}: document {index}: {message}")]
    Parse {
        source_name: String,
        index: usize,
        message: String,
    },
    #[error("{source_name}: document {index}: {problem}")]
    UnexpectedKind {
        source_name: String,
        index: usize,
        /// What the document is instead, and what an App or a Platform looks like.
        problem: String,
    },
    #[error("{source_name}: {name}: {}", join(.errors))]
    Invalid {
        source_name: String,
        name: String,
        errors: Vec<FieldError>,
    },
}
