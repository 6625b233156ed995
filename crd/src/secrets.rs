//! Secret values the renderer must preserve. Generated values are created once, outside the
//! pure renderer (randomness is I/O), and carried here from the live Secret on every render,
//! so a reconcile, restart or edit never regenerates them.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use sha2::{Digest, Sha256};

use crate::app::AppSpec;

/// The current data of an App's Secret, as read from the cluster (or empty before it exists).
#[derive(Clone, Default, PartialEq)]
pub struct SecretState {
    values: BTreeMap<String, ByteString>,
}

// Never print secret values, not even in debug output.
impl std::fmt::Debug for SecretState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretState")
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SecretState {
    pub fn new(values: BTreeMap<String, ByteString>) -> Self {
        Self { values }
    }

    pub fn get(&self, key: &str) -> Option<&ByteString> {
        self.values.get(key)
    }

    /// Keys of `secrets.generate` that have no value yet.
    pub fn missing_generated<'a>(&self, spec: &'a AppSpec) -> Vec<&'a str> {
        generated_keys(spec)
            .filter(|k| !self.has_value(k))
            .collect()
    }

    /// Keys of `secrets.supplied` nobody has put a value in yet.
    pub fn missing_supplied<'a>(&self, spec: &'a AppSpec) -> Vec<&'a str> {
        spec.secrets
            .iter()
            .flat_map(|s| s.supplied.iter().map(String::as_str))
            .filter(|k| !self.has_value(k))
            .collect()
    }

    /// Fills every missing generated key with a value from `generate` and returns the keys it filled.
    pub fn generate_missing(
        &mut self,
        spec: &AppSpec,
        mut generate: impl FnMut() -> String,
    ) -> Vec<String> {
        let missing: Vec<String> = self
            .missing_generated(spec)
            .into_iter()
            .map(String::from)
            .collect();
        for key in &missing {
            self.values
                .insert(key.clone(), ByteString(generate().into_bytes()));
        }
        missing
    }

    fn has_value(&self, key: &str) -> bool {
        self.values.get(key).is_some_and(|v| !v.0.is_empty())
    }

    /// A digest of the declared keys' values, so pods roll when a value changes. Values of keys
    /// the App does not declare are left out: they do not reach the pods.
    pub fn digest(&self, spec: &AppSpec) -> String {
        let mut hasher = Sha256::new();
        for key in spec.secrets.iter().flat_map(|s| s.key_names()) {
            if let Some(value) = self.values.get(key) {
                hasher.update(key.as_bytes());
                hasher.update([0]);
                hasher.update(Sha256::digest(&value.0));
            }
        }
        short_hex(&hasher.finalize())
    }
}

/// Keys of `secrets.generate`, in declaration order.
pub fn generated_keys(spec: &AppSpec) -> impl Iterator<Item = &str> {
    spec.secrets
        .iter()
        .flat_map(|s| s.generate.iter().map(String::as_str))
}

/// The length of the digests in the pod annotations.
pub const DIGEST_HEX_LEN: usize = 16;

/// First 16 hex digits of a digest: enough to tell versions apart in an annotation.
pub fn short_hex(digest: &[u8]) -> String {
    digest
        .iter()
        .take(DIGEST_HEX_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}
