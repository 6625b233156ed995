//! Platform selection: which Platforms apply to an App's namespace, in layering order.

use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

use crate::platform::{Platform, PlatformDefaults, PlatformLimits};

/// One Platform that applies to the App's namespace.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformLayer {
    pub name: String,
    pub priority: i32,
    pub defaults: PlatformDefaults,
    pub limits: PlatformLimits,
}

/// The Platforms that apply to one namespace, lowest priority first.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct EffectivePlatform {
    pub layers: Vec<PlatformLayer>,
}

impl EffectivePlatform {
    /// No Platform at all: only the built-in defaults apply.
    pub fn builtin_only() -> Self {
        Self::default()
    }

    /// The Platforms whose `namespaceSelector` matches a namespace with these labels.
    ///
    /// A Platform with a selector that cannot be parsed matches nothing: applying its
    /// defaults to namespaces it may not have meant would be worse than skipping it.
    pub fn select<'a>(
        platforms: impl IntoIterator<Item = &'a Platform>,
        namespace_labels: &BTreeMap<String, String>,
    ) -> Self {
        let mut layers: Vec<PlatformLayer> = platforms
            .into_iter()
            .filter(|p| platform_matches(p, namespace_labels))
            .map(|p| PlatformLayer {
                name: p.name_any(),
                priority: p.spec.priority,
                defaults: p.spec.defaults.clone(),
                limits: p.spec.limits.clone(),
            })
            .collect();
        layers.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        Self { layers }
    }

    pub fn names(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.name.clone()).collect()
    }
}

/// Whether a Platform's `namespaceSelector` matches a namespace's labels; no selector matches all.
pub fn platform_matches(platform: &Platform, namespace_labels: &BTreeMap<String, String>) -> bool {
    match &platform.spec.namespace_selector {
        None => true,
        Some(selector) => Selector::try_from(selector.clone())
            .map(|s| s.matches(namespace_labels))
            .unwrap_or(false),
    }
}
