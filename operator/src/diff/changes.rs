//! From two renderings of the same App to the differences a reader cares about: children added
//! or removed, and for a child in both, each leaf value that changed with its field path.

use serde_json::Value;

use super::impact::{AppImpact, Child, Verdict};

/// What happens to one App.
#[derive(Debug, PartialEq)]
pub enum AppChange {
    Unchanged,
    /// Rendered before and after, with these children differing.
    Children(Vec<ChildChange>),
    /// Rendered now, refused under the proposed Platforms: it would keep its current children
    /// and turn Degraded.
    NewlyRefused {
        guardrail: bool,
        message: String,
    },
    /// Refused now, rendered under the proposed Platforms.
    NoLongerRefused(Vec<ChildChange>),
    /// Refused both ways (possibly for another reason).
    StillRefused {
        message: String,
    },
}

#[derive(Debug, PartialEq)]
pub enum ChildChange {
    Added(Child),
    Removed(Child),
    Changed {
        before: Child,
        after: Child,
        fields: Vec<FieldChange>,
    },
}

/// One leaf that differs. `None` is a value that is not there.
#[derive(Debug, PartialEq, Clone)]
pub struct FieldChange {
    /// `spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds`
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub fn classify(impact: &AppImpact) -> AppChange {
    match (&impact.before, &impact.after) {
        (Verdict::Rendered(before), Verdict::Rendered(after)) => {
            let changes = child_changes(before, after);
            if changes.is_empty() {
                AppChange::Unchanged
            } else {
                AppChange::Children(changes)
            }
        }
        (Verdict::Rendered(_), Verdict::Refused { guardrail, message }) => {
            AppChange::NewlyRefused {
                guardrail: *guardrail,
                message: message.clone(),
            }
        }
        (Verdict::Refused { .. }, Verdict::Rendered(after)) => {
            AppChange::NoLongerRefused(after.iter().cloned().map(ChildChange::Added).collect())
        }
        (Verdict::Refused { message: old, .. }, Verdict::Refused { message, .. }) => {
            if old == message {
                AppChange::Unchanged
            } else {
                AppChange::StillRefused {
                    message: message.clone(),
                }
            }
        }
    }
}

/// Children matched by kind and name, in the proposed apply order, removed ones last.
fn child_changes(before: &[Child], after: &[Child]) -> Vec<ChildChange> {
    let mut changes = Vec::new();
    for new in after {
        match before.iter().find(|old| old.id == new.id) {
            None => changes.push(ChildChange::Added(new.clone())),
            Some(old) => {
                let fields = field_changes(&old.object, &new.object);
                if !fields.is_empty() {
                    changes.push(ChildChange::Changed {
                        before: old.clone(),
                        after: new.clone(),
                        fields,
                    });
                }
            }
        }
    }
    for old in before {
        if !after.iter().any(|new| new.id == old.id) {
            changes.push(ChildChange::Removed(old.clone()));
        }
    }
    changes
}

/// Every leaf that differs. Lists of named objects are matched by name, others by position
/// (Baseplate renders them in a stable order); an object or list that appears or disappears
/// as a whole is one change, not one per leaf.
pub fn field_changes(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    walk(&mut String::new(), Some(before), Some(after), &mut changes);
    changes
}

fn walk<'a>(
    path: &mut String,
    before: Option<&'a Value>,
    after: Option<&'a Value>,
    out: &mut Vec<FieldChange>,
) {
    match (before, after) {
        (Some(Value::Object(old)), Some(Value::Object(new))) => {
            let keys = old
                .keys()
                .chain(new.keys().filter(|k| !old.contains_key(*k)));
            for key in keys {
                let length = path.len();
                push_key(path, key);
                walk(path, old.get(key), new.get(key), out);
                path.truncate(length);
            }
        }
        (Some(Value::Array(old)), Some(Value::Array(new))) => {
            if let (Some(old_named), Some(new_named)) = (by_name(old), by_name(new)) {
                let names = old_named.iter().map(|(n, _)| *n).chain(
                    new_named
                        .iter()
                        .map(|(n, _)| *n)
                        .filter(|n| !old_named.iter().any(|(o, _)| o == n)),
                );
                for name in names {
                    let find = |list: &[(&str, &'a Value)]| {
                        list.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
                    };
                    let length = path.len();
                    path.push_str(&format!("[name={name}]"));
                    walk(path, find(&old_named), find(&new_named), out);
                    path.truncate(length);
                }
                return;
            }
            for index in 0..old.len().max(new.len()) {
                let length = path.len();
                path.push_str(&format!("[{index}]"));
                walk(path, old.get(index), new.get(index), out);
                path.truncate(length);
            }
        }
        (old, new) if old == new => {}
        (old, new) => out.push(FieldChange {
            path: path.clone(),
            before: old.cloned(),
            after: new.cloned(),
        }),
    }
}

/// The items of a list of objects that each have a unique `name` (containers, env, ports,
/// volumes), keyed by it: such lists are matched by name, as the API server merges them, so a
/// sidecar inserted before another is one added container, not every later one changed.
fn by_name(list: &[Value]) -> Option<Vec<(&str, &Value)>> {
    let mut named: Vec<(&str, &Value)> = Vec::with_capacity(list.len());
    for item in list {
        let name = item.get("name")?.as_str()?;
        if named.iter().any(|(n, _)| *n == name) {
            return None;
        }
        named.push((name, item));
    }
    Some(named)
}

/// `a.b` for plain keys; `a["baseplate.dev/config-hash"]` for keys a dot would make ambiguous.
fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push_str(&format!("[{}]", serde_json::Value::String(key.into())));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_leaf_change_is_named_by_its_path_with_both_values() {
        let before = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "lifecycle": {"preStop": {"sleep": {"seconds": 10}}}}
        ]}}}});
        let mut after = before.clone();
        after["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"] =
            json!(15);
        assert_eq!(
            field_changes(&before, &after),
            [FieldChange {
                path: "spec.template.spec.containers[name=app].lifecycle.preStop.sleep.seconds"
                    .into(),
                before: Some(json!(10)),
                after: Some(json!(15)),
            }]
        );
    }

    #[test]
    fn keys_with_dots_and_slashes_are_quoted_and_removed_items_each_named() {
        let before = json!({"metadata": {"annotations": {"baseplate.dev/config-hash": "a"}}, "list": [1, 2, 3]});
        let after = json!({"metadata": {"annotations": {}}, "list": [1]});
        let changes = field_changes(&before, &after);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "list[1]",
                "list[2]",
                "metadata.annotations[\"baseplate.dev/config-hash\"]"
            ]
        );
        assert_eq!(changes[1].before, Some(json!(3)));
        assert_eq!(changes[1].after, None);
    }

    #[test]
    fn a_container_inserted_before_another_is_one_addition() {
        let before = json!({"containers": [{"name": "app", "image": "a"}]});
        let after =
            json!({"containers": [{"name": "proxy", "image": "p"}, {"name": "app", "image": "a"}]});
        let changes = field_changes(&before, &after);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].path, "containers[name=proxy]");
        assert_eq!(
            changes[0].after,
            Some(json!({"name": "proxy", "image": "p"}))
        );
    }

    #[test]
    fn an_object_that_appears_is_one_change() {
        let changes = field_changes(
            &json!({"spec": {}}),
            &json!({"spec": {"tls": [{"hosts": ["a"]}]}}),
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "spec.tls");
        assert_eq!(changes[0].before, None);
    }

    fn child(kind: &str, name: &str, object: Value) -> Child {
        Child {
            kind: kind.into(),
            id: format!("shop/{kind}/{name}"),
            object,
        }
    }

    #[test]
    fn children_are_matched_by_kind_and_name() {
        let impact = AppImpact {
            namespace: "shop".into(),
            name: "api".into(),
            before: Verdict::Rendered(vec![
                child("Deployment", "api", json!({"replicas": 2})),
                child("Ingress", "api", json!({})),
            ]),
            after: Verdict::Rendered(vec![
                child("Deployment", "api", json!({"replicas": 2})),
                child("PodDisruptionBudget", "api", json!({})),
            ]),
        };
        let AppChange::Children(changes) = classify(&impact) else {
            panic!("changes expected");
        };
        let kinds: Vec<(&str, bool)> = changes
            .iter()
            .map(|c| match c {
                ChildChange::Added(c) => (c.kind.as_str(), true),
                ChildChange::Removed(c) => (c.kind.as_str(), false),
                ChildChange::Changed { after, .. } => (after.kind.as_str(), false),
            })
            .collect();
        assert_eq!(kinds, [("PodDisruptionBudget", true), ("Ingress", false)]);
    }

    #[test]
    fn the_same_rendering_is_unchanged() {
        let rendered = || Verdict::Rendered(vec![child("Deployment", "api", json!({"a": 1}))]);
        let impact = AppImpact {
            namespace: "shop".into(),
            name: "api".into(),
            before: rendered(),
            after: rendered(),
        };
        assert_eq!(classify(&impact), AppChange::Unchanged);
    }
}
