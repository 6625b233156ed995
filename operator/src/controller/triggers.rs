//! Which Apps a change to a Platform or a Namespace affects.
//!
//! A Platform applies through its namespaceSelector, so a change re-reconciles the Apps in
//! the namespaces it selected before or selects now, and nothing else. A namespace's labels
//! decide which Platforms apply, so a label change re-reconciles the Apps in that namespace.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use baseplate_crd::resolve::platform_matches;
use baseplate_crd::{App, Platform, PlatformSpec};
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::reflector::{ObjectRef, Store};

type AppRef = ObjectRef<DeserializeGuard<App>>;

/// Apps in namespaces for which `selected` holds.
fn apps_in(apps: &Store<DeserializeGuard<App>>, selected: impl Fn(&str) -> bool) -> Vec<AppRef> {
    let mut refs: Vec<AppRef> = apps
        .state()
        .iter()
        .filter(|a| a.namespace().is_some_and(|ns| selected(&ns)))
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect();
    refs.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    refs
}

/// Maps Platform events to the Apps they affect, remembering each Platform's previous spec.
pub struct PlatformTrigger {
    apps: Store<DeserializeGuard<App>>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
    last_seen: Mutex<HashMap<String, Seen>>,
}

/// What of a Platform its Apps render from: the spec and, for a staged Platform, where its
/// rollout stands (a new wave or revision moves Apps without the spec changing).
#[derive(Clone, PartialEq)]
struct Seen {
    spec: PlatformSpec,
    rollout: Option<(Option<String>, Option<i32>, Option<String>)>,
}

impl Seen {
    fn of(platform: &Platform) -> Self {
        Self {
            spec: platform.spec.clone(),
            rollout: platform
                .status
                .as_ref()
                .map(|s| (s.revision.clone(), s.wave, s.phase.clone())),
        }
    }
}

impl PlatformTrigger {
    pub fn new(
        apps: Store<DeserializeGuard<App>>,
        namespaces: Store<PartialObjectMeta<Namespace>>,
    ) -> Self {
        Self {
            apps,
            namespaces,
            last_seen: Mutex::default(),
        }
    }

    /// The Apps to reconcile after `platform` was created, changed or deleted (a deleted
    /// Platform arrives with a deletion timestamp).
    pub fn affected(&self, platform: &Platform) -> Vec<AppRef> {
        let deleted = platform.metadata.deletion_timestamp.is_some();
        let previous = {
            let mut last_seen = self.last_seen.lock().expect("lock");
            if deleted {
                last_seen.remove(&platform.name_any())
            } else {
                last_seen.insert(platform.name_any(), Seen::of(platform))
            }
        };
        if !deleted && previous.as_ref() == Some(&Seen::of(platform)) {
            // A relist or a metadata-only change: nothing an App inherits moved.
            return Vec::new();
        }
        let before = previous.map(|seen| Platform::new(&platform.name_any(), seen.spec));
        let namespaces: BTreeMap<String, bool> = self
            .namespaces
            .state()
            .iter()
            .map(|ns| {
                let labels = ns.labels();
                let selected = platform_matches(platform, labels)
                    || before.as_ref().is_some_and(|b| platform_matches(b, labels));
                (ns.name_any(), selected)
            })
            .collect();
        apps_in(&self.apps, |ns| {
            namespaces.get(ns).copied().unwrap_or(false)
        })
    }
}

/// Maps Namespace events to the Apps inside, when the namespace's labels changed.
pub struct NamespaceTrigger {
    apps: Store<DeserializeGuard<App>>,
    last_labels: Mutex<HashMap<String, BTreeMap<String, String>>>,
}

impl NamespaceTrigger {
    pub fn new(apps: Store<DeserializeGuard<App>>) -> Self {
        Self {
            apps,
            last_labels: Mutex::default(),
        }
    }

    pub fn affected(&self, namespace: &PartialObjectMeta<Namespace>) -> Vec<AppRef> {
        let name = namespace.name_any();
        let previous = self
            .last_labels
            .lock()
            .expect("lock")
            .insert(name.clone(), namespace.labels().clone());
        match previous {
            // First sight (startup or a new namespace): its Apps reconcile on their own.
            None => Vec::new(),
            Some(labels) if &labels == namespace.labels() => Vec::new(),
            Some(_) => apps_in(&self.apps, |ns| ns == name),
        }
    }
}
