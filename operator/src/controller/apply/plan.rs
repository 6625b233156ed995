//! Whether a child the App wants needs applying, decided from what was last applied and what
//! the cache shows, without asking the API server.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use tokio::time::Instant;

use crate::controller::context::{AppliedChild, ChildVersion};

/// How long a child Baseplate just applied may be missing from, or behind in, the cache
/// before a reconcile stops waiting for the watch and applies it again.
pub const CACHE_LAG_ALLOWANCE: Duration = Duration::from_secs(5);

/// What to do with a child the App wants.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// The cache shows the child as Baseplate last applied this same desired object, and
    /// nobody changed it since (status updates by other controllers do not count).
    UpToDate,
    /// The same desired object was applied moments ago and the watch has not shown the
    /// result yet: applying again would only repeat it.
    AwaitCache,
    Apply,
}

/// Decides from what was last applied and what the cache shows, without asking the API server.
pub fn plan(
    last: Option<&AppliedChild>,
    digest: u64,
    cached: Option<&ChildVersion>,
    now: Instant,
) -> Plan {
    let Some(last) = last.filter(|l| l.desired_digest == digest) else {
        return Plan::Apply;
    };
    let lagging =
        !last.seen && now.saturating_duration_since(last.applied_at) < CACHE_LAG_ALLOWANCE;
    let Some(cached) = cached else {
        return if lagging {
            Plan::AwaitCache
        } else {
            Plan::Apply
        };
    };
    let then = &last.version;
    let same_spec = match (
        then.generation,
        cached.generation,
        then.spec_digest,
        cached.spec_digest,
    ) {
        // Generations only grow: a newer one in the cache is someone's change to the spec.
        (Some(a), Some(b), _, _) if b > a => return Plan::Apply,
        (Some(a), Some(b), _, _) => a == b,
        (_, _, Some(a), Some(b)) => a == b,
        _ => then.resource_version.is_some() && then.resource_version == cached.resource_version,
    };
    if same_spec && then.fingerprint == cached.fingerprint {
        Plan::UpToDate
    } else if lagging {
        Plan::AwaitCache
    } else {
        Plan::Apply
    }
}

/// The version of `meta` (with `spec_digest`, see `SpecDigest`) as far as Baseplate's
/// `wanted` metadata goes: labels and annotations others add (a Deployment's revision, say)
/// do not count.
pub fn version_of(
    meta: &ObjectMeta,
    spec_digest: Option<u64>,
    wanted: &ObjectMeta,
) -> ChildVersion {
    ChildVersion {
        resource_version: meta.resource_version.clone(),
        generation: meta.generation,
        spec_digest,
        fingerprint: digest(&(
            only_wanted(&meta.labels, &wanted.labels),
            only_wanted(&meta.annotations, &wanted.annotations),
            &meta.owner_references,
            &meta.deletion_timestamp,
        )),
    }
}

fn only_wanted<'a>(
    have: &'a Option<BTreeMap<String, String>>,
    wanted: &Option<BTreeMap<String, String>>,
) -> Vec<(&'a String, &'a String)> {
    have.iter()
        .flatten()
        .filter(|(key, _)| wanted.as_ref().is_some_and(|w| w.contains_key(*key)))
        .collect()
}

pub fn digest<K: Serialize>(object: &K) -> u64 {
    let mut hasher = DefaultHasher::new();
    serde_json::to_string(object)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(generation: Option<i64>, version: &str, seen: bool, at: Instant) -> AppliedChild {
        AppliedChild {
            app: "web".into(),
            desired_digest: 7,
            version: meta(generation, version),
            applied_at: at,
            seen,
        }
    }

    fn meta(generation: Option<i64>, version: &str) -> ChildVersion {
        ChildVersion {
            generation,
            resource_version: Some(version.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_child_never_applied_or_wanted_differently_is_applied() {
        let now = Instant::now();
        assert_eq!(plan(None, 7, Some(&meta(None, "5")), now), Plan::Apply);
        let last = applied(None, "5", true, now);
        assert_eq!(
            plan(Some(&last), 8, Some(&meta(None, "5")), now),
            Plan::Apply
        );
    }

    #[test]
    fn the_cache_showing_the_last_apply_means_nothing_to_do() {
        let now = Instant::now();
        let config_map = applied(None, "5", false, now);
        assert_eq!(
            plan(Some(&config_map), 7, Some(&meta(None, "5")), now),
            Plan::UpToDate
        );
        // A Deployment whose status moved on: same generation, new resourceVersion.
        let deployment = applied(Some(3), "5", true, now);
        assert_eq!(
            plan(Some(&deployment), 7, Some(&meta(Some(3), "9")), now),
            Plan::UpToDate
        );
    }

    #[test]
    fn a_cache_behind_a_fresh_apply_is_waited_for_then_no_longer() {
        let applied_at = Instant::now();
        let soon = applied_at + Duration::from_secs(1);
        let late = applied_at + CACHE_LAG_ALLOWANCE;
        let created = applied(None, "5", false, applied_at);
        assert_eq!(plan(Some(&created), 7, None, soon), Plan::AwaitCache);
        assert_eq!(plan(Some(&created), 7, None, late), Plan::Apply);
        let updated = applied(Some(4), "8", false, applied_at);
        assert_eq!(
            plan(Some(&updated), 7, Some(&meta(Some(3), "6")), soon),
            Plan::AwaitCache
        );
        assert_eq!(
            plan(Some(&updated), 7, Some(&meta(Some(3), "6")), late),
            Plan::Apply
        );
    }

    #[test]
    fn once_seen_a_missing_or_different_child_is_someone_elses_change() {
        let applied_at = Instant::now();
        let soon = applied_at + Duration::from_secs(1);
        let seen = applied(None, "5", true, applied_at);
        assert_eq!(plan(Some(&seen), 7, None, soon), Plan::Apply, "deleted");
        assert_eq!(
            plan(Some(&seen), 7, Some(&meta(None, "6")), soon),
            Plan::Apply,
            "edited"
        );
    }

    #[test]
    fn a_newer_generation_is_an_edit_even_before_the_apply_was_seen() {
        let applied_at = Instant::now();
        let last = applied(Some(3), "5", false, applied_at);
        assert_eq!(
            plan(Some(&last), 7, Some(&meta(Some(4), "6")), applied_at),
            Plan::Apply
        );
    }

    #[test]
    fn changed_labels_or_owners_are_applied_again() {
        let now = Instant::now();
        let last = applied(Some(3), "5", true, now);
        let mut relabelled = meta(Some(3), "6");
        relabelled.fingerprint = 99;
        assert_eq!(plan(Some(&last), 7, Some(&relabelled), now), Plan::Apply);
    }

    #[test]
    fn a_status_update_of_a_kind_without_generation_is_not_a_change() {
        let now = Instant::now();
        let mut autoscaler = applied(None, "5", true, now);
        autoscaler.version.spec_digest = Some(11);
        let mut status_moved = meta(None, "9");
        status_moved.spec_digest = Some(11);
        assert_eq!(
            plan(Some(&autoscaler), 7, Some(&status_moved), now),
            Plan::UpToDate
        );
        let mut spec_edited = meta(None, "10");
        spec_edited.spec_digest = Some(12);
        assert_eq!(
            plan(Some(&autoscaler), 7, Some(&spec_edited), now),
            Plan::Apply
        );
    }

    #[test]
    fn only_the_labels_and_annotations_baseplate_sets_count() {
        let wanted = ObjectMeta {
            labels: Some([("app".to_string(), "web".to_string())].into()),
            annotations: Some([("team".to_string(), "a".to_string())].into()),
            ..Default::default()
        };
        let mut live = wanted.clone();
        let before = version_of(&live, None, &wanted);
        // The Deployment controller records the revision in an annotation of its own.
        live.annotations
            .as_mut()
            .unwrap()
            .insert("deployment.kubernetes.io/revision".into(), "2".into());
        assert_eq!(version_of(&live, None, &wanted), before);
        live.labels
            .as_mut()
            .unwrap()
            .insert("app".into(), "edited".into());
        assert_ne!(version_of(&live, None, &wanted), before);
    }
}
