//! The summary a reviewer reads first: each distinct change with how many objects and
//! namespaces it reaches, then the Apps that would be refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::Value;

use super::changes::{AppChange, ChildChange};
use super::impact::AppImpact;

/// Above this many distinct before/after pairs, a field's changes are one line ("values differ").
const MAX_VALUE_LINES_PER_FIELD: usize = 3;
/// Apps named in one line; the rest are counted.
const MAX_NAMES: usize = 5;
const MAX_VALUE_WIDTH: usize = 60;

#[derive(Default)]
struct Reach {
    apps: BTreeSet<String>,
    namespaces: BTreeSet<String>,
}

impl Reach {
    fn add(&mut self, impact: &AppImpact) {
        self.apps.insert(impact.id());
        self.namespaces.insert(impact.namespace.clone());
    }
}

pub fn summary(platforms: &[String], outcomes: &[(AppImpact, AppChange)]) -> String {
    let mut fields: BTreeMap<(String, String), BTreeMap<(String, String), Reach>> = BTreeMap::new();
    let mut added: BTreeMap<String, Reach> = BTreeMap::new();
    let mut removed: BTreeMap<String, Reach> = BTreeMap::new();
    let mut refused_guardrail = Reach::default();
    let mut refused_invalid = Reach::default();
    let mut accepted_again = Reach::default();
    let mut still_refused = Reach::default();
    let mut unchanged = Reach::default();
    let mut all = Reach::default();
    for (impact, change) in outcomes {
        all.add(impact);
        let children = match change {
            AppChange::Unchanged => {
                unchanged.add(impact);
                continue;
            }
            AppChange::NewlyRefused { guardrail, .. } => {
                if *guardrail {
                    refused_guardrail.add(impact)
                } else {
                    refused_invalid.add(impact)
                }
                continue;
            }
            AppChange::StillRefused { .. } => {
                still_refused.add(impact);
                continue;
            }
            AppChange::NoLongerRefused(_) => {
                accepted_again.add(impact);
                continue;
            }
            AppChange::Children(children) => children,
        };
        for child in children {
            match child {
                ChildChange::Added(c) => added.entry(c.kind.clone()).or_default().add(impact),
                ChildChange::Removed(c) => removed.entry(c.kind.clone()).or_default().add(impact),
                ChildChange::Changed {
                    after,
                    fields: changed,
                    ..
                } => {
                    for field in changed {
                        fields
                            .entry((after.kind.clone(), field.path.clone()))
                            .or_default()
                            .entry((show(field.before.as_ref()), show(field.after.as_ref())))
                            .or_default()
                            .add(impact);
                    }
                }
            }
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Platform {}: {} selected in {}; {} would change, {} unchanged",
        platforms.join(", "),
        count(all.apps.len(), "App"),
        count(all.namespaces.len(), "namespace"),
        all.apps.len() - unchanged.apps.len(),
        unchanged.apps.len(),
    );
    for ((kind, path), values) in &fields {
        if values.len() > MAX_VALUE_LINES_PER_FIELD {
            let mut reach = Reach::default();
            for r in values.values() {
                reach.apps.extend(r.apps.iter().cloned());
                reach.namespaces.extend(r.namespaces.iter().cloned());
            }
            let _ = writeln!(
                out,
                "{kind} {path}: {} different changes: {}",
                values.len(),
                objects(kind, &reach)
            );
            continue;
        }
        for ((before, after), reach) in values {
            let _ = writeln!(
                out,
                "{kind} {path} {before} -> {after}: {}",
                objects(kind, reach)
            );
        }
    }
    for (kind, reach) in &added {
        let _ = writeln!(out, "{kind} added: {}", apps(reach));
    }
    for (kind, reach) in &removed {
        let _ = writeln!(out, "{kind} removed: {}", apps(reach));
    }
    let refusals = [
        (
            &refused_guardrail,
            "would be refused by a guardrail (they keep their current children)",
        ),
        (
            &refused_invalid,
            "would be refused as invalid (they keep their current children)",
        ),
        (
            &still_refused,
            "refused now and still refused, for another reason",
        ),
        (
            &accepted_again,
            "refused now, accepted under the new Platform",
        ),
    ];
    for (reach, what) in refusals {
        if !reach.apps.is_empty() {
            let _ = writeln!(out, "{what}: {}", apps(reach));
        }
    }
    out
}

fn count(n: usize, noun: &str) -> String {
    format!("{n} {}", plural(noun, n))
}

fn plural(noun: &str, n: usize) -> String {
    match (n, noun.ends_with("ss")) {
        (1, _) => noun.to_string(),
        (_, true) => format!("{noun}es"),
        (_, false) => format!("{noun}s"),
    }
}

fn objects(kind: &str, reach: &Reach) -> String {
    format!(
        "{} in {}",
        count(reach.apps.len(), kind),
        count(reach.namespaces.len(), "namespace")
    )
}

fn apps(reach: &Reach) -> String {
    let names: Vec<&str> = reach
        .apps
        .iter()
        .take(MAX_NAMES)
        .map(String::as_str)
        .collect();
    let more = reach.apps.len().saturating_sub(MAX_NAMES);
    format!(
        "{} ({}{})",
        count(reach.apps.len(), "App"),
        names.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

fn show(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(none)".into();
    };
    let text = value.to_string();
    if text.chars().count() <= MAX_VALUE_WIDTH {
        return text;
    }
    let cut: String = text.chars().take(MAX_VALUE_WIDTH - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::changes::FieldChange;
    use super::super::impact::{Child, Verdict};
    use super::*;

    fn impact(namespace: &str, name: &str) -> AppImpact {
        AppImpact {
            namespace: namespace.into(),
            name: name.into(),
            before: Verdict::Rendered(vec![]),
            after: Verdict::Rendered(vec![]),
        }
    }

    fn deployment_change(before: i64, after: i64) -> AppChange {
        let child = Child {
            kind: "Deployment".into(),
            id: "x".into(),
            object: json!({}),
        };
        AppChange::Children(vec![ChildChange::Changed {
            before: child.clone(),
            after: child,
            fields: vec![FieldChange {
                path: "spec.x".into(),
                before: Some(json!(before)),
                after: Some(json!(after)),
            }],
        }])
    }

    #[test]
    fn one_line_per_distinct_change_counting_objects_and_namespaces() {
        let outcomes = vec![
            (impact("a", "one"), deployment_change(10, 15)),
            (impact("b", "two"), deployment_change(10, 15)),
            (impact("b", "three"), AppChange::Unchanged),
            (
                impact("c", "four"),
                AppChange::NewlyRefused {
                    guardrail: true,
                    message: "no".into(),
                },
            ),
        ];
        let text = summary(&["defaults".into()], &outcomes);
        assert_eq!(
            text,
            "Platform defaults: 4 Apps selected in 3 namespaces; 3 would change, 1 unchanged\n\
             Deployment spec.x 10 -> 15: 2 Deployments in 2 namespaces\n\
             would be refused by a guardrail (they keep their current children): 1 App (c/four)\n"
        );
    }

    #[test]
    fn many_different_values_of_one_field_are_one_line() {
        let outcomes: Vec<_> = (0..5)
            .map(|i| (impact("a", &format!("app{i}")), deployment_change(i, i + 1)))
            .collect();
        let text = summary(&["p".into()], &outcomes);
        assert!(
            text.contains("Deployment spec.x: 5 different changes: 5 Deployments in 1 namespace\n"),
            "{text}"
        );
    }

    #[test]
    fn long_name_lists_are_cut_and_counted() {
        let outcomes: Vec<_> = (0..7)
            .map(|i| {
                (
                    impact("ns", &format!("app{i}")),
                    AppChange::NewlyRefused {
                        guardrail: false,
                        message: String::new(),
                    },
                )
            })
            .collect();
        let text = summary(&["p".into()], &outcomes);
        assert!(
            text.contains("7 Apps (ns/app0, ns/app1, ns/app2, ns/app3, ns/app4 and 2 more)"),
            "{text}"
        );
    }
}
