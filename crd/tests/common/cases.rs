//! The table of invalid Apps and Platforms, `crd/tests/data/invalid.yaml`, shared by the offline
//! tests (`crd/tests/invalid.rs`) and the e2e suite, which includes this file by path: both
//! read the same cases, so the real API server is held to the offline verdict.
#![allow(dead_code)]

use std::path::Path;

use serde::Deserialize;

/// One invalid App or Platform and what refuses it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// The kind of the document that carries the mistake.
    pub kind: Kind,
    /// Where it is refused.
    #[serde(rename = "where")]
    pub refused: Where,
    /// For a status case: the reason the App is reported with. Default `InvalidSpec`.
    #[serde(default)]
    pub reason: Reason,
    /// The document's `spec`, as YAML; the document around it is [`Case::document`]'s.
    pub spec: Option<String>,
    /// A whole document instead, where `metadata` is what is wrong.
    pub document: Option<String>,
    /// For a status case: `spec`s of Platforms (named p0, p1, ...) that select the App's
    /// namespace, in this order.
    #[serde(default)]
    pub platforms: Vec<String>,
    /// What must be reported, each with its field and a fragment of its message; the first
    /// is the case's own. A status case reports exactly these.
    pub errors: Vec<Expected>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Kind {
    App,
    Platform,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Where {
    /// The CRD's schema and CEL rules: `kubectl apply` is refused, and so is `baseplate render`.
    Admission,
    /// Rules on the App with its Platforms: the API server stores the App, the operator reports
    /// it `Degraded` (`reason`) and leaves its children as they were; `baseplate render` refuses it.
    Status,
    /// Only a file can hold it (a namespace name): `baseplate render` refuses it.
    Offline,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum Reason {
    #[default]
    InvalidSpec,
    PolicyViolation,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub field: String,
    pub message: String,
}

/// The App's name and namespace in the documents built from a `spec`.
pub const APP: &str = "web";
pub const NAMESPACE: &str = "default";
/// The Platform's name in the documents built from a `spec`.
pub const PLATFORM: &str = "defaults";

/// Every case of the table.
pub fn all() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crd/tests/data/invalid.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Case {
    /// The document applied: the whole `document`, or `spec` in an App `web` in namespace
    /// `default` or, for an admission case of a Platform, a Platform `defaults`.
    pub fn document(&self) -> String {
        if let Some(document) = &self.document {
            return expand(document);
        }
        let spec = self
            .spec
            .as_deref()
            .unwrap_or_else(|| panic!("{}: no spec and no document", self.name));
        // A status case's mistake may lie in its Platforms; its `spec` is the App's.
        let (kind, metadata) = if self.kind == Kind::Platform && self.refused != Where::Status {
            ("Platform", format!("{{name: {PLATFORM}}}"))
        } else {
            ("App", format!("{{name: {APP}, namespace: {NAMESPACE}}}"))
        };
        format!(
            "apiVersion: baseplate.dev/v1alpha1\nkind: {kind}\nmetadata: {metadata}\nspec:\n{}",
            indent(&expand(spec))
        )
    }

    /// The Platforms of a status case, as documents named p0, p1, ...
    pub fn platform_documents(&self) -> Vec<(String, String)> {
        self.platforms
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let name = format!("p{i}");
                let document = format!(
                    "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {{name: {name}}}\nspec:\n{}",
                    indent(&expand(spec))
                );
                (name, document)
            })
            .collect()
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// `((repeat N c))` becomes N times the character c, for cases about sizes.
fn expand(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("((repeat ") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("))").expect("a closed ((repeat N c))") + start;
        let mut words = rest[start + 9..end].split(' ');
        let count: usize = words
            .next()
            .and_then(|n| n.parse().ok())
            .expect("((repeat N c)) with a number");
        let unit = words.next().expect("((repeat N c)) with a character");
        out.push_str(&unit.repeat(count));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}
