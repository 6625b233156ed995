//! What the e2e suite starts from: the reference App and the children it should get.

use anyhow::{anyhow, ensure};
use baseplate_crd::AppSpec;

use crate::{Result, repo_file};

/// The seven kinds an App with a port gets, as they appear in `status.children`.
pub const SEVEN_KINDS: [&str; 7] = [
    "ConfigMap",
    "Secret",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
];

/// The reference App's spec, from examples/my-application.yaml.
pub fn reference_spec() -> Result<AppSpec> {
    let path = repo_file("examples/my-application.yaml");
    let text = std::fs::read_to_string(&path)?;
    let mut manifests = baseplate_crd::manifest::parse(&path.display().to_string(), &text)
        .map_err(|e| anyhow!("{e}"))?;
    ensure!(manifests.apps.len() == 1, "one App in {}", path.display());
    Ok(manifests.apps.remove(0).spec)
}

/// `Kind/name` of each kind, sorted like a `BTreeMap`'s keys.
pub fn child_names(app: &str, kinds: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = kinds.iter().map(|k| format!("{k}/{app}")).collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_app_parses_and_child_names_sort_like_status() {
        let spec = reference_spec().unwrap();
        assert!(!spec.ports.is_empty(), "the reference App has a port");
        assert_eq!(
            child_names("a", &["Secret", "ConfigMap", "Deployment"]),
            ["ConfigMap/a", "Deployment/a", "Secret/a"]
        );
    }
}
