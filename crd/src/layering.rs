//! The layering engine: built-in defaults < matching Platforms (ascending priority, then
//! name) < the App, one knob at a time, recording which layer set each value.
//!
//! Every layer is a [`PlatformDefaults`]: the built-in one, each Platform's `defaults`, and
//! the App's own choices put in the same shape. So a knob is one path into that type, written
//! once with [`knob!`]: the path gives both the accessor every layer is read with and the
//! provenance key (the path as a Platform's YAML spells it), and the two cannot drift apart.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::builtin;
use crate::platform::PlatformDefaults;
use crate::select::{EffectivePlatform, PlatformLayer};
use crate::settings::{Provenance, Source};

/// One layered setting: its provenance key and how to read it from a layer.
pub struct Knob<G> {
    pub key: String,
    pub get: G,
}

impl<G> Knob<G> {
    /// The key of `fields` (Rust field names along the path), as serde's `camelCase` spells them.
    pub fn new(fields: &[&str], get: G) -> Self {
        let key = fields
            .iter()
            .map(|field| camel_case(field))
            .collect::<Vec<_>>()
            .join(".");
        Self { key, get }
    }

    /// Like [`Knob::new`] for a path whose last field has its own `#[serde(rename)]`.
    pub fn renamed(fields: &[&str], leaf: &str, get: G) -> Self {
        let (_, parents) = fields.split_last().expect("a knob has at least one field");
        let mut knob = Self::new(parents, get);
        knob.key = if knob.key.is_empty() {
            leaf.to_string()
        } else {
            format!("{}.{leaf}", knob.key)
        };
        knob
    }

    /// The same knob of one entry of an App's list: `cronJobs[nightly].timeZone` for
    /// `cronJobs.timeZone`.
    pub fn of_entry(mut self, name: &str) -> Self {
        self.key = match self.key.split_once('.') {
            Some((list, rest)) => format!("{list}[{name}].{rest}"),
            None => format!("{}[{name}]", self.key),
        };
        self
    }

    /// The same knob of one part of the App, e.g. `sidecars[proxy].resources.cpu`.
    pub fn within(mut self, scope: &str) -> Self {
        self.key = format!("{scope}.{}", self.key);
        self
    }
}

fn camel_case(field: &str) -> String {
    let mut words = field.split('_');
    let mut out = words.next().unwrap_or_default().to_string();
    for word in words {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// Reads a field path of a layer: `read!(d, a.b.c)` is `d.a.as_ref()?.b.as_ref()?.c.clone()`,
/// for use inside a closure that returns an `Option`.
macro_rules! read {
    ($layer:expr, $leaf:ident) => {
        ::std::clone::Clone::clone(&$layer.$leaf)
    };
    ($layer:expr, $head:ident . $($rest:ident).+) => {
        $crate::layering::read!($layer.$head.as_ref()?, $($rest).+)
    };
}
pub(crate) use read;

/// A [`Knob`] from the path of its value in [`PlatformDefaults`], by Rust field names:
/// `knob!(autoscaling.min_replicas)` has the key `autoscaling.minReplicas`. A field that serde
/// renames itself names its YAML spelling: `knob!(autoscaling.target_cpu as "targetCPU")`.
macro_rules! knob {
    ($($field:ident).+ as $leaf:literal) => {
        $crate::layering::Knob::renamed(
            &[$(stringify!($field)),+],
            $leaf,
            |layer: &$crate::platform::PlatformDefaults| $crate::layering::read!(layer, $($field).+),
        )
    };
    ($($field:ident).+) => {
        $crate::layering::Knob::new(
            &[$(stringify!($field)),+],
            |layer: &$crate::platform::PlatformDefaults| $crate::layering::read!(layer, $($field).+),
        )
    };
}
pub(crate) use knob;

/// Walks the layers for one knob at a time and records where each value came from.
pub struct Resolver<'a> {
    /// What the App itself sets, in the shape of a Platform's defaults.
    app: PlatformDefaults,
    layers: &'a [PlatformLayer],
    builtin: PlatformDefaults,
    provenance: BTreeMap<String, Provenance>,
}

impl<'a> Resolver<'a> {
    pub fn new(app: PlatformDefaults, platform: &'a EffectivePlatform) -> Self {
        Self {
            app,
            layers: &platform.layers,
            builtin: builtin::defaults(),
            provenance: BTreeMap::new(),
        }
    }

    pub fn record<T: Serialize>(&mut self, key: &str, value: &T, source: Source) {
        let value = serde_json::to_string(value).unwrap_or_default();
        self.provenance
            .insert(key.to_string(), Provenance { value, source });
    }

    /// The layer that set `key`, as the App's status and error messages name it.
    pub fn source_of(&self, key: &str) -> String {
        self.provenance
            .get(key)
            .map_or_else(|| "unset".to_string(), |p| p.source.to_string())
    }

    /// How high the layer that set `key` sits: the built-in layer 0, Platforms from 1 by
    /// ascending priority, the App above them all; `None` when unset or computed by a rule.
    pub fn layer_rank(&self, key: &str) -> Option<usize> {
        match &self.provenance.get(key)?.source {
            Source::BuiltIn => Some(0),
            Source::Platform(name) => self
                .layers
                .iter()
                .position(|l| &l.name == name)
                .map(|i| i + 1),
            Source::App => Some(self.layers.len() + 1),
            Source::Rule(_) => None,
        }
    }

    /// The App's value if it set one, else the highest Platform's, else the built-in one.
    pub fn pick_optional<T: Serialize>(
        &mut self,
        knob: &Knob<impl Fn(&PlatformDefaults) -> Option<T>>,
    ) -> Option<T> {
        let own = (knob.get)(&self.app);
        self.pick_optional_over(own, knob)
    }

    /// Like [`Self::pick_optional`] for knobs the built-in layer always sets.
    pub fn pick<T: Serialize>(
        &mut self,
        knob: &Knob<impl Fn(&PlatformDefaults) -> Option<T>>,
    ) -> T {
        let own = (knob.get)(&self.app);
        self.pick_over(own, knob)
    }

    /// Like [`Self::pick`] with the App's own value read from `own` (a part of the App, such
    /// as a sidecar, in the shape of a Platform's defaults) instead of the App's spec.
    pub fn pick_in<T: Serialize>(
        &mut self,
        own: &PlatformDefaults,
        knob: &Knob<impl Fn(&PlatformDefaults) -> Option<T>>,
    ) -> T {
        self.pick_over((knob.get)(own), knob)
    }

    /// Like [`Self::pick_optional`] with the App's own value read from `own`.
    pub fn pick_optional_in<T: Serialize>(
        &mut self,
        own: &PlatformDefaults,
        knob: &Knob<impl Fn(&PlatformDefaults) -> Option<T>>,
    ) -> Option<T> {
        self.pick_optional_over((knob.get)(own), knob)
    }

    fn pick_over<T: Serialize>(
        &mut self,
        own: Option<T>,
        knob: &Knob<impl Fn(&PlatformDefaults) -> Option<T>>,
    ) -> T {
        self.pick_optional_over(own, knob).unwrap_or_else(|| {
            panic!(
                "built-in defaults set every required knob, but not {}",
                knob.key
            )
        })
    }

    fn pick_optional_over<T: Serialize>(
        &mut self,
        own: Option<T>,
        knob: &Knob<impl Fn(&PlatformDefaults) -> Option<T>>,
    ) -> Option<T> {
        let found = own.map(|v| (v, Source::App)).or_else(|| {
            self.layers
                .iter()
                .rev()
                .find_map(|l| {
                    (knob.get)(&l.defaults).map(|v| (v, Source::Platform(l.name.clone())))
                })
                .or_else(|| (knob.get)(&self.builtin).map(|v| (v, Source::BuiltIn)))
        });
        if let Some((value, source)) = &found {
            self.record(&knob.key, value, source.clone());
        }
        found.map(|(value, _)| value)
    }

    /// Maps add up across the Platform layers; a higher layer wins on the same key.
    pub fn merged_map(
        &mut self,
        knob: &Knob<impl Fn(&PlatformDefaults) -> BTreeMap<String, String>>,
    ) -> BTreeMap<String, String> {
        let mut merged = (knob.get)(&self.builtin);
        let mut sources = Vec::new();
        for layer in self.layers {
            let map = (knob.get)(&layer.defaults);
            if !map.is_empty() {
                sources.push(layer.name.clone());
                merged.extend(map);
            }
        }
        if !merged.is_empty() {
            let source = match sources.len() {
                0 => Source::BuiltIn,
                1 => Source::Platform(sources.remove(0)),
                _ => Source::Platform(sources.join("+")),
            };
            self.record(&knob.key, &merged, source);
        }
        merged
    }

    /// Lists of named entries that add up across every layer, the App's included: one entry
    /// per name, from the lowest layer that lists it, in the order the layers list them.
    pub fn merged_by_name<T: Serialize>(
        &mut self,
        knob: &Knob<impl Fn(&PlatformDefaults) -> Option<Vec<T>>>,
        name: impl Fn(&T) -> &str,
    ) -> Vec<T> {
        let layers = std::iter::once((Source::BuiltIn, &self.builtin))
            .chain(
                self.layers
                    .iter()
                    .map(|l| (Source::Platform(l.name.clone()), &l.defaults)),
            )
            .chain(std::iter::once((Source::App, &self.app)));
        let mut merged: Vec<T> = Vec::new();
        let mut sources = Vec::new();
        for (source, layer) in layers {
            let entries = (knob.get)(layer).unwrap_or_default();
            if entries.is_empty() {
                continue;
            }
            sources.push(source);
            for entry in entries {
                if !merged.iter().any(|m| name(m) == name(&entry)) {
                    merged.push(entry);
                }
            }
        }
        let source = match sources.len() {
            0 => return merged,
            1 => sources.remove(0),
            _ => Source::Rule(format!(
                "added up by name: {}",
                sources
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" + ")
            )),
        };
        self.record(&knob.key, &merged, source);
        merged
    }

    /// Which layer set each value, keyed by its path in the Platform's `defaults`.
    pub fn into_provenance(self) -> BTreeMap<String, Provenance> {
        self.provenance
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn keys_are_the_paths_a_platform_spells() {
        assert_eq!(knob!(replicas).key, "replicas");
        assert_eq!(
            knob!(autoscaling.min_replicas).key,
            "autoscaling.minReplicas"
        );
        assert_eq!(
            knob!(ingress.tls.secret_name_template).key,
            "ingress.tls.secretNameTemplate"
        );
        assert_eq!(
            knob!(autoscaling.target_cpu_utilization_percentage as "targetCPUUtilizationPercentage").key,
            "autoscaling.targetCPUUtilizationPercentage"
        );
        assert_eq!(
            knob!(resources.cpu).within("sidecars[proxy]").key,
            "sidecars[proxy].resources.cpu"
        );
        assert_eq!(
            knob!(cron_jobs.time_zone).of_entry("nightly").key,
            "cronJobs[nightly].timeZone"
        );
    }
}
