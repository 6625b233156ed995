//! The per-object differences after the summary, as unified diffs of the YAML the operator
//! would apply (what `kubectl diff` shows for a live object).

use std::fmt::Write;

use similar::TextDiff;

use super::changes::{AppChange, ChildChange};
use super::impact::{AppImpact, Child};

const CONTEXT_LINES: usize = 3;

pub fn object_diffs(outcomes: &[(AppImpact, AppChange)]) -> String {
    let mut out = String::new();
    for (impact, change) in outcomes {
        match change {
            AppChange::Unchanged => {}
            AppChange::NewlyRefused { message, .. } => {
                let _ = writeln!(
                    out,
                    "# App {} would be refused and keep its current children: {message}",
                    impact.id()
                );
            }
            AppChange::StillRefused { message } => {
                let _ = writeln!(out, "# App {} stays refused: {message}", impact.id());
            }
            AppChange::Children(children) | AppChange::NoLongerRefused(children) => {
                for child in children {
                    out.push_str(&child_diff(child));
                }
            }
        }
    }
    out
}

fn child_diff(change: &ChildChange) -> String {
    let (before, after, id) = match change {
        ChildChange::Added(c) => (String::new(), yaml(c), &c.id),
        ChildChange::Removed(c) => (yaml(c), String::new(), &c.id),
        ChildChange::Changed { before, after, .. } => (yaml(before), yaml(after), &after.id),
    };
    TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(CONTEXT_LINES)
        .header(&format!("{id} (current)"), &format!("{id} (proposed)"))
        .to_string()
}

fn yaml(child: &Child) -> String {
    serde_saphyr::to_string(&child.object).expect("JSON values serialize to YAML")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::impact::Verdict;
    use super::*;

    #[test]
    fn a_changed_child_shows_the_changed_line_with_its_context() {
        let child = |seconds: i64| Child {
            kind: "Deployment".into(),
            id: "shop/Deployment/api".into(),
            object: json!({"kind": "Deployment", "spec": {"a": 1, "seconds": seconds}}),
        };
        let impact = AppImpact {
            namespace: "shop".into(),
            name: "api".into(),
            before: Verdict::Rendered(vec![]),
            after: Verdict::Rendered(vec![]),
        };
        let change = AppChange::Children(vec![ChildChange::Changed {
            before: child(10),
            after: child(15),
            fields: vec![],
        }]);
        let text = object_diffs(&[(impact, change)]);
        assert!(
            text.starts_with(
                "--- shop/Deployment/api (current)\n+++ shop/Deployment/api (proposed)\n"
            ),
            "{text}"
        );
        assert!(text.contains("-  seconds: 10\n+  seconds: 15\n"), "{text}");
        assert!(text.contains("   a: 1\n"), "{text}");
    }
}
