//! Whether a child the App wants needs applying, decided from what the cache shows and what
//! was last applied, without asking the API server.

use std::time::Duration;

use baseplate_crd::labels::APPLIED_DIGEST;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::fields::{covers, own_fields};
use crate::controller::context::AppliedChild;

/// How long a child Baseplate just applied may be missing from, or behind in, the cache
/// before a reconcile stops waiting for the watch and applies it again.
pub const CACHE_LAG_ALLOWANCE: Duration = Duration::from_secs(5);

/// What to do with a child the App wants.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// The cache shows the child as Baseplate would apply it now ([`Cached::AsWanted`]).
    UpToDate,
    /// The same desired object was applied moments ago and the watch has not shown the
    /// result yet: applying again would only repeat it.
    AwaitCache,
    Apply,
}

/// What the cache shows of a child the App wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cached {
    Missing,
    /// It carries the digest of the object Baseplate wants, and Baseplate's field manager
    /// still owns every field of that object: nobody changed or removed any of them since
    /// Baseplate applied it, so applying it again would change nothing. What others own
    /// besides (the replicas an autoscaler sets, a revision annotation, the status) does
    /// not count.
    AsWanted,
    Different,
}

/// Decides from the cache and what this process applied last (`last`), without asking the
/// API server. The cache alone suffices after a restart; `last` only tells a watch running
/// behind Baseplate's own apply from someone's change.
pub fn plan(last: Option<&AppliedChild>, digest: u64, cached: Cached, now: Instant) -> Plan {
    let lagging = last
        .filter(|l| !l.seen && now.saturating_duration_since(l.applied_at) < CACHE_LAG_ALLOWANCE);
    match (cached, lagging) {
        // The cache still shows an earlier state than another object applied moments ago.
        (Cached::AsWanted, Some(l)) if l.desired_digest != digest => Plan::Apply,
        (Cached::AsWanted, _) => Plan::UpToDate,
        (_, Some(l)) if l.desired_digest == digest => Plan::AwaitCache,
        _ => Plan::Apply,
    }
}

/// How the cached `meta` compares with `desired`, the object as Baseplate applies it
/// ([`stamped`], carrying `digest`).
pub fn compare<K: Resource + Serialize>(
    meta: Option<&ObjectMeta>,
    desired: &K,
    digest: u64,
) -> Cached {
    let Some(meta) = meta else {
        return Cached::Missing;
    };
    let carries = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(APPLIED_DIGEST))
        .is_some_and(|d| *d == hex(digest));
    let as_wanted = carries
        && meta.deletion_timestamp.is_none()
        && own_fields(meta).is_some_and(|owned| {
            serde_json::to_value(desired).is_ok_and(|desired| covers(&owned, &desired))
        });
    if as_wanted {
        Cached::AsWanted
    } else {
        Cached::Different
    }
}

/// The digest stored on a cached child, if it carries one.
pub fn carried(meta: &ObjectMeta) -> Option<&str> {
    meta.annotations
        .as_ref()?
        .get(APPLIED_DIGEST)
        .map(String::as_str)
}

/// `desired` with its digest in the [`APPLIED_DIGEST`] annotation: what Baseplate applies.
pub fn stamped<K: Resource + Clone>(desired: &K, digest: u64) -> K {
    let mut stamped = desired.clone();
    stamped
        .meta_mut()
        .annotations
        .get_or_insert_default()
        .insert(APPLIED_DIGEST.into(), hex(digest));
    stamped
}

/// The digest of a desired object: SHA-256 of its JSON as rendered (every field Baseplate
/// applies: apiVersion, kind, metadata with labels, annotations and owner references, and the
/// spec or data), cut to 64 bits. Stable across builds and Rust versions, since it is stored
/// on the children and read by later operator versions.
pub fn digest<K: Serialize>(object: &K) -> u64 {
    let json = serde_json::to_vec(object).unwrap_or_default();
    let sha = Sha256::digest(&json);
    u64::from_be_bytes(sha[..8].try_into().expect("8 bytes"))
}

pub fn hex(digest: u64) -> String {
    format!("{digest:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
    use serde_json::json;

    fn applied(seen: bool, at: Instant) -> AppliedChild {
        AppliedChild {
            app: "web".into(),
            desired_digest: 7,
            resource_version: Some("5".into()),
            generation: None,
            applied_at: at,
            seen,
        }
    }

    #[test]
    fn what_the_cache_shows_as_wanted_is_up_to_date_with_or_without_memory() {
        let now = Instant::now();
        assert_eq!(plan(None, 7, Cached::AsWanted, now), Plan::UpToDate);
        assert_eq!(
            plan(Some(&applied(true, now)), 7, Cached::AsWanted, now),
            Plan::UpToDate
        );
        assert_eq!(plan(None, 7, Cached::Different, now), Plan::Apply);
        assert_eq!(plan(None, 7, Cached::Missing, now), Plan::Apply);
    }

    #[test]
    fn a_cache_behind_a_fresh_apply_is_waited_for_then_no_longer() {
        let applied_at = Instant::now();
        let soon = applied_at + Duration::from_secs(1);
        let late = applied_at + CACHE_LAG_ALLOWANCE;
        let created = applied(false, applied_at);
        for cached in [Cached::Missing, Cached::Different] {
            assert_eq!(plan(Some(&created), 7, cached, soon), Plan::AwaitCache);
            assert_eq!(plan(Some(&created), 7, cached, late), Plan::Apply);
        }
    }

    #[test]
    fn once_seen_a_missing_or_different_child_is_someone_elses_change() {
        let applied_at = Instant::now();
        let soon = applied_at + Duration::from_secs(1);
        let seen = applied(true, applied_at);
        assert_eq!(
            plan(Some(&seen), 7, Cached::Missing, soon),
            Plan::Apply,
            "deleted"
        );
        assert_eq!(
            plan(Some(&seen), 7, Cached::Different, soon),
            Plan::Apply,
            "edited"
        );
    }

    #[test]
    fn a_cache_showing_the_state_before_another_fresh_apply_is_not_trusted() {
        // Wanted 8, then 7 moments ago, now 8 again while the cache still shows the first.
        let applied_at = Instant::now();
        let last = applied(false, applied_at);
        assert_eq!(
            plan(Some(&last), 8, Cached::AsWanted, applied_at),
            Plan::Apply
        );
    }

    fn config_map(annotation: Option<&str>, owned: serde_json::Value) -> ObjectMeta {
        ObjectMeta {
            annotations: annotation.map(|d| [(APPLIED_DIGEST.to_string(), d.to_string())].into()),
            managed_fields: Some(vec![ManagedFieldsEntry {
                manager: Some("baseplate".into()),
                operation: Some("Apply".into()),
                fields_v1: Some(FieldsV1(owned)),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn a_child_is_as_wanted_when_it_carries_the_digest_and_baseplate_owns_every_field() {
        let desired = ConfigMap {
            metadata: ObjectMeta {
                name: Some("web".into()),
                ..Default::default()
            },
            data: Some([("k".to_string(), "v".to_string())].into()),
            ..Default::default()
        };
        let d = digest(&desired);
        let desired = stamped(&desired, d);
        let owned = json!({"f:metadata": {"f:annotations": {format!("f:{APPLIED_DIGEST}"): {}}}, "f:data": {"f:k": {}}});
        let live = config_map(Some(&hex(d)), owned.clone());
        assert_eq!(compare(Some(&live), &desired, d), Cached::AsWanted);
        assert_eq!(compare(None, &desired, d), Cached::Missing);
        // Another desired object, or an older one.
        assert_eq!(compare(Some(&live), &desired, d + 1), Cached::Different);
        let older = config_map(Some("0123"), owned.clone());
        assert_eq!(compare(Some(&older), &desired, d), Cached::Different);
        // Made by a Baseplate that stored no digest.
        assert_eq!(
            compare(Some(&config_map(None, owned)), &desired, d),
            Cached::Different
        );
        // `kubectl edit` of data.k took the field from Baseplate.
        let edited = config_map(
            Some(&hex(d)),
            json!({"f:metadata": {"f:annotations": {format!("f:{APPLIED_DIGEST}"): {}}}}),
        );
        assert_eq!(compare(Some(&edited), &desired, d), Cached::Different);
    }

    #[test]
    fn the_digest_is_sha256_of_the_json() {
        // Stored on children: a new build must compute the same value for the same object.
        assert_eq!(hex(digest(&json!({"a": 1}))), "015abd7f5cc57a2d");
    }
}
