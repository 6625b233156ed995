//! One e2e test's world: a namespace of its own and an operator process of its own, acting
//! as the operator's ServiceAccount (impersonated, so a missing RBAC verb fails the suite;
//! `BASEPLATE_E2E_AS_ADMIN=1` runs it with your own credentials instead).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use baseplate_crd::{App, AppSpec};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::checks::check_owned;
use crate::fixtures::child_names;
use crate::install::{install_cluster_rbac, install_crds};
use crate::namespace::{DeleteOnDrop, create_temporary_namespace};
use crate::operator::{self, Identity, Operator, Settings};
use crate::wait::eventually;
use crate::{Result, repo_file};

/// Field manager of everything the tests write, standing in for `kubectl apply --server-side`.
pub const MANAGER: &str = "baseplate-e2e";
/// The operator's field manager.
pub const OPERATOR: &str = "baseplate";
/// How long the operator gets to react to a change.
pub const REACT: Duration = Duration::from_secs(60);
/// Garbage collection of a deleted owner's children by kube-controller-manager.
pub const GARBAGE_COLLECTION: Duration = Duration::from_secs(90);

/// One test's world: a namespace of its own and an operator process of its own.
pub struct Env {
    pub client: Client,
    pub namespace: String,
    // Dropped in this order: the operator stops before its namespace goes.
    _operator: Operator,
    _namespace: DeleteOnDrop<Namespace>,
}

impl Env {
    /// `None` (with a notice) unless BASEPLATE_E2E=1.
    pub async fn start(test: &str) -> Result<Option<Env>> {
        if std::env::var("BASEPLATE_E2E").as_deref() != Ok("1") {
            println!(
                "skipping {test}: it needs a cluster; run `BASEPLATE_E2E=1 make e2e` with KUBECONFIG set"
            );
            return Ok(None);
        }
        let client = Client::try_default()
            .await
            .context("connecting to the cluster in KUBECONFIG")?;
        install_crds(&client, &repo_file("deploy/crds.yaml"), MANAGER).await?;
        let identity = if std::env::var("BASEPLATE_E2E_AS_ADMIN").as_deref() == Ok("1") {
            Identity::Caller
        } else {
            install_cluster_rbac(&client, &repo_file("deploy/rbac.yaml"), MANAGER).await?;
            Identity::ServiceAccount
        };

        let suffix: u32 = rand::random::<u32>() % 1_000_000;
        let namespace = format!("baseplate-e2e-{test}-{suffix:06}");
        let namespace_guard = create_temporary_namespace(
            &client,
            &namespace,
            BTreeMap::from([("baseplate-e2e".into(), "true".into())]),
        )
        .await?;

        let log = std::env::temp_dir().join(format!("{namespace}-operator.log"));
        let mut operator = Operator::start(&Settings {
            binary: operator::binary()?,
            log,
            args: Vec::new(),
            env: vec![(
                "RUST_LOG".into(),
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info,kube=warn".into()),
            )],
            identity,
        })?;
        println!(
            "{test}: namespace {namespace}, operator log {}",
            operator.log().display()
        );
        operator.wait_until_ready(REACT).await?;
        Ok(Some(Env {
            client,
            namespace,
            _operator: operator,
            _namespace: namespace_guard,
        }))
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Server-side applies an App made of `spec` (the whole App, as `kubectl apply` would).
    pub async fn apply_app(&self, name: &str, spec: AppSpec) -> Result<App> {
        let app = App::new(name, spec);
        self.api::<App>()
            .patch(
                name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&app),
            )
            .await
            .with_context(|| format!("applying App {name}"))
    }

    pub async fn app(&self, name: &str) -> Result<App> {
        Ok(self.api::<App>().get(name).await?)
    }

    /// The App once the operator has reported on its latest generation.
    pub async fn reconciled_app(&self, name: &str) -> Result<App> {
        eventually("status.observedGeneration catches up", REACT, async || {
            let app = self.app(name).await?;
            let observed = app.status.as_ref().and_then(|s| s.observed_generation);
            ensure!(
                observed.is_some() && observed == app.metadata.generation,
                "observedGeneration {observed:?}, generation {:?}",
                app.metadata.generation
            );
            Ok(app)
        })
        .await
    }

    /// `Kind/name` → metadata of each of the App's children that exists right now.
    pub async fn children(&self, name: &str) -> Result<BTreeMap<String, ObjectMeta>> {
        children_in(&self.client, &self.namespace, name).await
    }

    /// Waits until exactly the children of `kinds` exist, all owned by the App.
    pub async fn wait_for_children(
        &self,
        app: &str,
        kinds: &[&str],
    ) -> Result<BTreeMap<String, ObjectMeta>> {
        let owner = self.app(app).await?;
        let want = child_names(app, kinds);
        eventually(&format!("children of App {app}"), REACT, async || {
            let found = self.children(app).await?;
            let names: Vec<String> = found.keys().cloned().collect();
            ensure!(names == want, "found {names:?}, want {want:?}");
            for (child, meta) in &found {
                check_owned(child, meta, &owner)?;
            }
            Ok(found)
        })
        .await
    }

    /// Reasons of the App's events, with their notes.
    pub async fn events(&self, app: &str) -> Result<Vec<(String, String)>> {
        let events = self
            .api::<k8s_openapi::api::events::v1::Event>()
            .list(&Default::default())
            .await?;
        Ok(events
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(app)
                    && e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("App")
            })
            .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
            .collect())
    }
}

/// `Kind/name` → metadata of each child of App `name` in `namespace` that exists right now.
pub async fn children_in(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, ObjectMeta>> {
    let mut found = BTreeMap::new();
    find::<ConfigMap>(client, namespace, name, &mut found).await?;
    find::<Secret>(client, namespace, name, &mut found).await?;
    find::<Deployment>(client, namespace, name, &mut found).await?;
    find::<Service>(client, namespace, name, &mut found).await?;
    find::<HorizontalPodAutoscaler>(client, namespace, name, &mut found).await?;
    find::<PodDisruptionBudget>(client, namespace, name, &mut found).await?;
    find::<Ingress>(client, namespace, name, &mut found).await?;
    Ok(found)
}

async fn find<K>(
    client: &Client,
    namespace: &str,
    name: &str,
    found: &mut BTreeMap<String, ObjectMeta>,
) -> Result
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    if let Some(object) = api.get_metadata_opt(name).await? {
        found.insert(format!("{}/{name}", K::kind(&())), object.metadata);
    }
    Ok(())
}
