//! What a Platform change does to each App: the children rendered under the current Platforms
//! and under the proposed ones, side by side. Pure: the caller reads the Apps, namespaces and
//! Platforms (from files or the cluster).

use std::collections::BTreeMap;

use baseplate_crd::select::platform_matches;
use baseplate_crd::{App, EffectivePlatform, Platform, RenderError, SecretState};
use k8s_openapi::ByteString;
use kube::ResourceExt;
use serde_json::Value;

/// Stands in for every secret value on both sides, so a Secret differs only in its keys and no
/// value (there is none in an App, and the live Secret is never read) can reach the output.
pub const HIDDEN_SECRET_VALUE: &str = "(hidden)";

/// The input of a comparison.
pub struct World<'a> {
    pub apps: &'a [App],
    /// Labels of each namespace an App lives in; a namespace not listed has none.
    pub namespace_labels: &'a BTreeMap<String, BTreeMap<String, String>>,
    pub current: &'a [Platform],
    /// Replaces the current Platform of the same name, or is added when there is none.
    pub proposed: &'a [Platform],
}

/// One App under the current and the proposed Platforms.
#[derive(Debug)]
pub struct AppImpact {
    pub namespace: String,
    pub name: String,
    pub before: Verdict,
    pub after: Verdict,
}

impl AppImpact {
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// What the operator would do with an App under one set of Platforms.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// The children it would apply, in apply order.
    Rendered(Vec<Child>),
    /// Refused; the App keeps the children it has.
    Refused { guardrail: bool, message: String },
}

/// A rendered child and the name it is known by in the output.
#[derive(Debug, PartialEq, Clone)]
pub struct Child {
    pub kind: String,
    /// `namespace/Kind/name`, as the per-object diff headers show it.
    pub id: String,
    pub object: Value,
}

/// The Platforms in force after the proposed ones replace their namesakes.
pub fn proposed_set(current: &[Platform], proposed: &[Platform]) -> Vec<Platform> {
    let mut set: Vec<Platform> = current
        .iter()
        .filter(|c| !proposed.iter().any(|p| p.name_any() == c.name_any()))
        .cloned()
        .collect();
    set.extend(proposed.iter().cloned());
    set
}

/// Every App that a proposed Platform selects now or would select, rendered both ways,
/// sorted by namespace and name.
pub fn compare(world: &World<'_>) -> Vec<AppImpact> {
    let after_set = proposed_set(world.current, world.proposed);
    let concerned: Vec<&Platform> = world
        .proposed
        .iter()
        .chain(
            world
                .current
                .iter()
                .filter(|c| world.proposed.iter().any(|p| p.name_any() == c.name_any())),
        )
        .collect();
    let no_labels = BTreeMap::new();
    let mut impacts: Vec<AppImpact> = world
        .apps
        .iter()
        .filter_map(|app| {
            let namespace = app.namespace().unwrap_or_default();
            let labels = world.namespace_labels.get(&namespace).unwrap_or(&no_labels);
            if !concerned.iter().any(|p| platform_matches(p, labels)) {
                return None;
            }
            Some(AppImpact {
                before: verdict(app, &EffectivePlatform::select(world.current, labels)),
                after: verdict(app, &EffectivePlatform::select(&after_set, labels)),
                name: app.name_any(),
                namespace,
            })
        })
        .collect();
    impacts.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    impacts
}

fn verdict(app: &App, platform: &EffectivePlatform) -> Verdict {
    match baseplate_crd::render(app, platform, &placeholder_secrets(app)) {
        Ok(children) => Verdict::Rendered(
            children
                .refs()
                .into_iter()
                .zip(children.to_values())
                .map(|(child, object)| Child {
                    kind: child.kind.kind().to_string(),
                    id: format!("{}/{child}", child.namespace),
                    object: hide_secret_values(object),
                })
                .collect(),
        ),
        Err(e) => Verdict::Refused {
            guardrail: matches!(e, RenderError::PolicyViolation(_)),
            message: e.to_string(),
        },
    }
}

fn placeholder_secrets(app: &App) -> SecretState {
    let keys = app
        .spec
        .secrets
        .iter()
        .flat_map(|s| s.generate.iter().chain(&s.supplied));
    SecretState::new(
        keys.map(|k| {
            (
                k.clone(),
                ByteString(HIDDEN_SECRET_VALUE.as_bytes().to_vec()),
            )
        })
        .collect(),
    )
}

fn hide_secret_values(mut object: Value) -> Value {
    if object["kind"] == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(values)) = object.get_mut(field) {
                for value in values.values_mut() {
                    *value = Value::String(HIDDEN_SECRET_VALUE.into());
                }
            }
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
        serde_saphyr::from_str(yaml).expect("test YAML parses")
    }

    fn app(namespace: &str, name: &str, extra: &str) -> App {
        parse_one(&format!(
            "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  image: nginx:1.27\n  ports: [{{name: http, containerPort: 8080}}]\n{extra}"
        ))
    }

    fn platform(name: &str, spec: &str) -> Platform {
        parse_one(&format!(
            "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {{name: {name}}}\nspec:\n{spec}"
        ))
    }

    fn labels(pairs: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, BTreeMap<String, String>> {
        pairs
            .iter()
            .map(|(ns, l)| {
                (
                    ns.to_string(),
                    l.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn only_apps_the_platform_selects_before_or_after_are_compared() {
        let apps = [
            app("shop", "api", ""),
            app("tools", "wiki", ""),
            app("shop", "web", ""),
        ];
        let namespaces = labels(&[("shop", &[("team", "shop")]), ("tools", &[])]);
        let current = [platform(
            "shop",
            "  namespaceSelector: {matchLabels: {team: shop}}\n  defaults: {preStopSleepSeconds: 10}",
        )];
        let proposed = [platform(
            "shop",
            "  namespaceSelector: {matchLabels: {team: shop}}\n  defaults: {preStopSleepSeconds: 15}",
        )];
        let impacts = compare(&World {
            apps: &apps,
            namespace_labels: &namespaces,
            current: &current,
            proposed: &proposed,
        });
        let ids: Vec<String> = impacts.iter().map(AppImpact::id).collect();
        assert_eq!(ids, ["shop/api", "shop/web"]);
        assert_ne!(impacts[0].before, impacts[0].after);
    }

    #[test]
    fn a_platform_that_stops_selecting_a_namespace_still_shows_its_apps() {
        let apps = [app("shop", "api", "")];
        let namespaces = labels(&[("shop", &[("team", "shop")])]);
        let current = [platform(
            "shop",
            "  namespaceSelector: {matchLabels: {team: shop}}",
        )];
        let proposed = [platform(
            "shop",
            "  namespaceSelector: {matchLabels: {team: other}}",
        )];
        let impacts = compare(&World {
            apps: &apps,
            namespace_labels: &namespaces,
            current: &current,
            proposed: &proposed,
        });
        assert_eq!(impacts.len(), 1);
    }

    #[test]
    fn a_guardrail_the_new_platform_adds_is_reported_as_a_refusal() {
        let apps = [app("shop", "api", "")];
        let namespaces = labels(&[]);
        let current = [platform("guard", "  limits: {}")];
        let proposed = [platform(
            "guard",
            "  limits: {allowedRegistries: [registry.example.com]}",
        )];
        let impacts = compare(&World {
            apps: &apps,
            namespace_labels: &namespaces,
            current: &current,
            proposed: &proposed,
        });
        assert!(matches!(impacts[0].before, Verdict::Rendered(_)));
        let Verdict::Refused { guardrail, message } = &impacts[0].after else {
            panic!("expected a refusal, got {:?}", impacts[0].after);
        };
        assert!(guardrail);
        assert!(message.contains("registry.example.com"), "{message}");
    }

    #[test]
    fn secret_values_never_appear_and_keys_do() {
        let apps = [app("shop", "api", "  secrets: {generate: [TOKEN]}")];
        let namespaces = labels(&[]);
        let impacts = compare(&World {
            apps: &apps,
            namespace_labels: &namespaces,
            current: &[],
            proposed: &[platform("all", "  defaults: {}")],
        });
        let Verdict::Rendered(children) = &impacts[0].after else {
            panic!("renders");
        };
        let secret = children
            .iter()
            .find(|c| c.kind == "Secret")
            .expect("a Secret");
        assert_eq!(secret.object["data"]["TOKEN"], HIDDEN_SECRET_VALUE);
    }

    #[test]
    fn the_proposed_platform_replaces_its_namesake_and_keeps_the_others() {
        let current = [
            platform("a", "  priority: 1"),
            platform("b", "  priority: 2"),
        ];
        let proposed = [
            platform("b", "  priority: 5"),
            platform("c", "  priority: 3"),
        ];
        let set = proposed_set(&current, &proposed);
        let summary: Vec<(String, i32)> = set
            .iter()
            .map(|p| (p.name_any(), p.spec.priority))
            .collect();
        assert_eq!(
            summary,
            [
                ("a".to_string(), 1),
                ("b".to_string(), 5),
                ("c".to_string(), 3)
            ]
        );
    }
}
