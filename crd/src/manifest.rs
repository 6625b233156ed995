//! Reading Apps and Platforms from YAML, and writing objects as a YAML stream.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::admission;
use crate::app::App;
use crate::child_rules;
use crate::error::{FieldError, ManifestError};
use crate::platform::Platform;
use crate::strict_fields;
use crate::yaml;

pub const API_VERSION: &str = "baseplate.dev/v1alpha1";

/// What a YAML stream held.
#[derive(Debug, Default)]
pub struct Manifests {
    pub apps: Vec<App>,
    pub platforms: Vec<Platform>,
}

/// Parses every document of a YAML stream as an App or a Platform, strictly (unknown fields are
/// errors, in `metadata` and in the embedded Kubernetes types too) and with the CRDs' CEL rules
/// applied, as the API server would on `kubectl apply`.
pub fn parse(source_name: &str, text: &str) -> Result<Manifests, ManifestError> {
    parse_documents(source_name, text, Foreign::Refuse)
}

/// As [`parse`], but documents of other kinds (a kustomization, a Namespace, a Deployment) are
/// skipped: for the files of a repository directory, where Apps sit beside other objects.
pub fn parse_ours(source_name: &str, text: &str) -> Result<Manifests, ManifestError> {
    parse_documents(source_name, text, Foreign::Skip)
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Foreign {
    Refuse,
    Skip,
}

fn parse_documents(
    source_name: &str,
    text: &str,
    foreign: Foreign,
) -> Result<Manifests, ManifestError> {
    let documents = yaml::documents(text).map_err(|e| ManifestError::Parse {
        source_name: source_name.into(),
        index: e.document,
        message: format!("line {}, column {}: {}", e.line, e.column, e.message),
    })?;
    let mut manifests = Manifests::default();
    for (position, document) in documents.into_iter().enumerate() {
        let index = position + 1;
        if document.is_null() {
            continue;
        }
        let api_version = document["apiVersion"].as_str().unwrap_or_default();
        let kind = document["kind"].as_str().unwrap_or_default().to_string();
        if foreign == Foreign::Skip && !is_ours(api_version, &kind) {
            continue;
        }
        if let Some(problem) = not_ours(api_version, &kind) {
            return Err(ManifestError::UnexpectedKind {
                source_name: source_name.into(),
                index,
                problem,
            });
        }
        let name = document["metadata"]["name"]
            .as_str()
            .unwrap_or("<unnamed>")
            .to_string();
        let invalid = |errors: Vec<FieldError>| ManifestError::Invalid {
            source_name: source_name.into(),
            name: format!("{kind}/{name}"),
            errors,
        };
        let unknown = if kind == "App" {
            strict_fields::unknown_fields::<App>(&document)
        } else {
            strict_fields::unknown_fields::<Platform>(&document)
        };
        if !unknown.is_empty() {
            return Err(invalid(unknown));
        }
        // The API server takes the namespace from the request's URL, where a namespace that
        // is not a name cannot exist; a file can hold any text.
        if let Some(namespace) = document["metadata"]["namespace"].as_str()
            && let Some(error) = child_rules::namespace_is_a_name(namespace)
        {
            return Err(invalid(vec![error]));
        }
        if kind == "App" {
            let app: App = strict(document).map_err(|e| invalid(vec![e]))?;
            let errors = admission::check_app(&app);
            if !errors.is_empty() {
                return Err(invalid(errors));
            }
            manifests.apps.push(app);
        } else {
            let platform: Platform = strict(document).map_err(|e| invalid(vec![e]))?;
            let errors = admission::check_platform(&platform);
            if !errors.is_empty() {
                return Err(invalid(errors));
            }
            manifests.platforms.push(platform);
        }
    }
    Ok(manifests)
}

fn is_ours(api_version: &str, kind: &str) -> bool {
    api_version == API_VERSION && (kind == "App" || kind == "Platform")
}

/// Why a document with this `apiVersion` and `kind` is not an App or a Platform, if it is not.
fn not_ours(api_version: &str, kind: &str) -> Option<String> {
    let ours = kind == "App" || kind == "Platform";
    if kind.is_empty() {
        Some(format!(
            "the document has no kind; an App or a Platform starts with apiVersion: {API_VERSION} and kind: App or kind: Platform"
        ))
    } else if !ours {
        Some(format!("kind: {kind} is not an App or a Platform"))
    } else if api_version != API_VERSION {
        Some(format!(
            "apiVersion: {api_version} is not Baseplate's: a {kind} has apiVersion: {API_VERSION}"
        ))
    } else {
        None
    }
}

/// Deserializes with the path of the offending field in the error.
fn strict<T: DeserializeOwned>(document: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(document).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let hint = if message.starts_with("unknown field") {
            "; remove it or fix its spelling"
        } else {
            ""
        };
        FieldError::new(
            if path == "." {
                "<document>".into()
            } else {
                path
            },
            format!("{message}{hint}"),
        )
    })
}

/// Objects as one multi-document YAML stream, each document starting with `---`.
pub fn to_yaml_stream(objects: impl IntoIterator<Item = Value>) -> String {
    objects
        .into_iter()
        .map(|o| {
            format!(
                "---\n{}",
                serde_saphyr::to_string(&o).expect("JSON values serialize to YAML")
            )
        })
        .collect()
}
