//! Labels and annotations Baseplate puts on what it makes.

use std::collections::BTreeMap;

pub const NAME: &str = "app.kubernetes.io/name";
pub const INSTANCE: &str = "app.kubernetes.io/instance";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY`] on everything Baseplate makes.
pub const MANAGED_BY_VALUE: &str = "baseplate";
/// Names the owning App; with the owner reference it marks what Baseplate may prune.
pub const APP: &str = "baseplate.dev/app";
pub const CONFIG_HASH: &str = "baseplate.dev/config-hash";
pub const SECRET_HASH: &str = "baseplate.dev/secret-hash";
/// What Kubernetes accepts as a label value (at most 63 characters besides).
pub const VALUE_PATTERN: &str = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
pub const CERT_MANAGER_ISSUER: &str = "cert-manager.io/cluster-issuer";

/// The pod selector. It never changes for an App's life, because a Deployment's selector is immutable.
pub fn selector(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME.to_string(), app.to_string()),
        (INSTANCE.to_string(), app.to_string()),
    ])
}

/// Labels on every child and pod: the Platform's extra labels under Baseplate's own.
pub fn child_labels(app: &str, extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut labels = extra.clone();
    labels.extend(selector(app));
    labels.insert(MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string());
    labels.insert(APP.to_string(), app.to_string());
    labels
}
