//! Labels and annotations Baseplate puts on what it makes.

use std::collections::BTreeMap;

pub const NAME: &str = "app.kubernetes.io/name";
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// What a pod of the App's does besides serving: `migration` or `cron-job`.
pub const COMPONENT: &str = "app.kubernetes.io/component";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY`] on everything Baseplate makes.
pub const MANAGED_BY_VALUE: &str = "baseplate";
/// Names the owning App; with the owner reference it marks what Baseplate may prune.
pub const APP: &str = "baseplate.dev/app";
pub const CONFIG_HASH: &str = "baseplate.dev/config-hash";
pub const SECRET_HASH: &str = "baseplate.dev/secret-hash";
/// On every child: the digest of the object Baseplate last applied to it, so an operator that
/// has just started can tell from its cache which children are up to date.
pub const APPLIED_DIGEST: &str = "baseplate.dev/applied-digest";
/// The version a migration Job migrates to (also the end of its name).
pub const VERSION: &str = "baseplate.dev/version";
/// What Kubernetes accepts as a label value (at most 63 characters besides).
pub const VALUE_PATTERN: &str = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";

/// A label or annotation key (a qualified name): an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or
/// digit. The prefix's limit of 253 characters is checked apart ([`KEY_PREDICATE`]).
macro_rules! key_pattern {
    () => {
        "^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
    };
}
pub(crate) use key_pattern;

pub const KEY_PATTERN: &str = key_pattern!();

/// CEL: the map key `k` is a label or annotation key.
pub const KEY_PREDICATE: &str =
    concat!("k.matches('", key_pattern!(), "') && k.indexOf('/') <= 253");
pub const KEYS_MESSAGE: &str = "keys must be label keys: an optional DNS prefix of at most 253 characters and '/', then at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit (e.g. team or example.com/team); rename the key";

/// The API server's limit on all of one object's annotations, keys and values together.
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

/// Whether `key` is a valid label or annotation key.
pub fn is_key(key: &str) -> bool {
    static PATTERN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(KEY_PATTERN).expect("the key pattern compiles")
    });
    PATTERN.is_match(key) && key.find('/').is_none_or(|slash| slash <= 253)
}

/// The size the API server counts for a set of annotations: every key and value, in bytes.
pub fn annotations_size<'a>(
    annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> usize {
    annotations
        .into_iter()
        .map(|(k, v)| k.len() + v.len())
        .sum()
}
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

/// Labels of the pods of a Job or CronJob: the App's name, but an instance of their own (the
/// Job's or CronJob's name) and a component, so that no selector of the App's (Deployment,
/// Service, PDB, topology spread: name and instance) ever picks them: a migration pod takes no
/// traffic and counts for no disruption budget.
pub fn batch_pod_labels(
    app: &str,
    instance: &str,
    component: &str,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = extra.clone();
    labels.insert(NAME.to_string(), app.to_string());
    labels.insert(INSTANCE.to_string(), instance.to_string());
    labels.insert(COMPONENT.to_string(), component.to_string());
    labels.insert(MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string());
    labels.insert(APP.to_string(), app.to_string());
    labels
}
