//! Cluster-wide prerequisites, as `make install` applies them: the CRDs of deploy/crds.yaml
//! and the operator's ClusterRole and ClusterRoleBinding of deploy/rbac.yaml.

use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use k8s_openapi::ClusterResourceScope;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Result;
use crate::wait::eventually;

/// How long the API server gets to serve a CRD it was given.
const ESTABLISHED: Duration = Duration::from_secs(60);

/// Server-side applies the CRDs of `path` (as `kubectl apply --server-side -f` would) as
/// `manager` and waits until the API server serves them.
pub async fn install_crds(client: &Client, path: &Path, manager: &str) -> Result {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    for document in documents(path)? {
        let crd: CustomResourceDefinition = serde_json::from_value(document)
            .with_context(|| format!("a CRD in {}", path.display()))?;
        let name = crd.name_any();
        api.patch(
            &name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(&crd),
        )
        .await
        .with_context(|| format!("installing CRD {name}"))?;
        eventually(
            &format!("CRD {name} is Established"),
            ESTABLISHED,
            async || {
                let crd = api.get(&name).await?;
                let established = crd
                    .status
                    .iter()
                    .flat_map(|s| s.conditions.iter().flatten())
                    .any(|c| c.type_ == "Established" && c.status == "True");
                ensure!(established, "not yet");
                Ok(())
            },
        )
        .await?;
    }
    Ok(())
}

/// Server-side applies the ClusterRoles and ClusterRoleBindings of `path` as `manager`. Its
/// namespaced objects (the leader-election Role) are left out: they need the operator's
/// namespace, and the kits run the operator without leader election.
pub async fn install_cluster_rbac(client: &Client, path: &Path, manager: &str) -> Result {
    for document in documents(path)? {
        match document["kind"].as_str() {
            Some("ClusterRole") => {
                apply_cluster_object::<ClusterRole>(client, document, manager).await?
            }
            Some("ClusterRoleBinding") => {
                apply_cluster_object::<ClusterRoleBinding>(client, document, manager).await?
            }
            _ => {}
        }
    }
    Ok(())
}

/// The documents of a multi-document YAML file, empty ones left out.
fn documents(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
        .with_context(|| format!("parsing {}", path.display()))?;
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}

async fn apply_cluster_object<K>(client: &Client, document: Value, manager: &str) -> Result
where
    K: Resource<DynamicType = (), Scope = ClusterResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    let object: K = serde_json::from_value(document)?;
    let name = object.name_any();
    Api::<K>::all(client.clone())
        .patch(
            &name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(&object),
        )
        .await
        .with_context(|| format!("applying {} {name}", K::kind(&())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo_file;

    #[test]
    fn the_deploy_manifests_hold_what_the_installers_apply() {
        let crds: Vec<String> = documents(&repo_file("deploy/crds.yaml"))
            .unwrap()
            .into_iter()
            .map(|d| serde_json::from_value::<CustomResourceDefinition>(d).unwrap())
            .map(|crd| crd.name_any())
            .collect();
        assert_eq!(crds, ["apps.baseplate.dev", "platforms.baseplate.dev"]);
        let rbac = documents(&repo_file("deploy/rbac.yaml")).unwrap();
        let cluster_roles: Vec<ClusterRole> = rbac
            .iter()
            .filter(|d| d["kind"] == "ClusterRole")
            .map(|d| serde_json::from_value(d.clone()).unwrap())
            .collect();
        let bindings: Vec<ClusterRoleBinding> = rbac
            .iter()
            .filter(|d| d["kind"] == "ClusterRoleBinding")
            .map(|d| serde_json::from_value(d.clone()).unwrap())
            .collect();
        assert_eq!(cluster_roles.len(), 1);
        assert_eq!(bindings.len(), 1);
        assert_eq!(bindings[0].role_ref.name, cluster_roles[0].name_any());
    }
}
