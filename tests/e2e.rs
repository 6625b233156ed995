//! End-to-end tests against the cluster in KUBECONFIG (Kubernetes 1.33+):
//! `BASEPLATE_E2E=1 make e2e`.
//!
//! Every test installs the CRDs and the operator's ClusterRole (deploy/rbac.yaml), starts
//! `baseplate run` as a child process acting as the operator's ServiceAccount (impersonated,
//! so a missing RBAC verb fails the suite; `BASEPLATE_E2E_AS_ADMIN=1` runs it with your own
//! credentials instead), works in a namespace of its own and deletes what it made.
//!
//! Only what the control plane does is asserted, never that pods run, so a cluster without
//! nodes will do. Garbage collection needs kube-controller-manager.

mod support {
    use std::collections::BTreeMap;
    use std::fmt::Debug;
    use std::io::{Read, Write};
    use std::marker::PhantomData;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use anyhow::{Context as _, anyhow, bail, ensure};
    use baseplate_crd::{App, AppSpec};
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
    use k8s_openapi::api::networking::v1::Ingress;
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
    use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
    use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
    use kube::{Client, Resource, ResourceExt};
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    pub type Result<T = ()> = anyhow::Result<T>;

    /// Field manager of everything the tests write, standing in for `kubectl apply --server-side`.
    pub const MANAGER: &str = "baseplate-e2e";
    pub const OPERATOR: &str = "baseplate";
    /// How long the operator gets to react to a change.
    pub const REACT: Duration = Duration::from_secs(60);
    /// Garbage collection of a deleted owner's children by kube-controller-manager.
    pub const GARBAGE_COLLECTION: Duration = Duration::from_secs(90);
    /// The operator's identity when it runs as in deploy/.
    const SERVICE_ACCOUNT: &str = "system:serviceaccount:baseplate-system:baseplate";
    const SERVICE_ACCOUNT_GROUPS: &str =
        "system:serviceaccounts,system:serviceaccounts:baseplate-system,system:authenticated";

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

    pub fn repo_file(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
    }

    /// Polls `check` until it succeeds; its last error says what was still wrong.
    pub async fn eventually<T>(
        what: &str,
        timeout: Duration,
        mut check: impl AsyncFnMut() -> Result<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            match check().await {
                Ok(value) => return Ok(value),
                Err(error) if Instant::now() >= deadline => {
                    bail!("{what}: still not so after {timeout:?}: {error:#}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }

    /// One test's world: a namespace of its own and an operator process of its own.
    pub struct Env {
        pub client: Client,
        pub namespace: String,
        // Dropped in this order: the operator stops before its namespace goes.
        operator: Operator,
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
            install_crds(&client).await?;
            let impersonate = std::env::var("BASEPLATE_E2E_AS_ADMIN").as_deref() != Ok("1");
            if impersonate {
                install_cluster_rbac(&client).await?;
            }

            let suffix: u32 = rand::random::<u32>() % 1_000_000;
            let namespace = format!("baseplate-e2e-{test}-{suffix:06}");
            let object = Namespace {
                metadata: ObjectMeta {
                    name: Some(namespace.clone()),
                    labels: Some(BTreeMap::from([("baseplate-e2e".into(), "true".into())])),
                    ..Default::default()
                },
                ..Default::default()
            };
            Api::<Namespace>::all(client.clone())
                .create(&PostParams::default(), &object)
                .await
                .with_context(|| format!("creating namespace {namespace}"))?;
            let namespace_guard = DeleteOnDrop::new(&namespace);

            let operator = Operator::spawn(&namespace, impersonate)?;
            println!(
                "{test}: namespace {namespace}, operator log {}",
                operator.log.display()
            );
            let mut env = Env {
                client,
                namespace,
                operator,
                _namespace: namespace_guard,
            };
            env.operator.wait_until_ready().await?;
            Ok(Some(env))
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
            let mut found = BTreeMap::new();
            self.find::<ConfigMap>(name, &mut found).await?;
            self.find::<Secret>(name, &mut found).await?;
            self.find::<Deployment>(name, &mut found).await?;
            self.find::<Service>(name, &mut found).await?;
            self.find::<HorizontalPodAutoscaler>(name, &mut found)
                .await?;
            self.find::<PodDisruptionBudget>(name, &mut found).await?;
            self.find::<Ingress>(name, &mut found).await?;
            Ok(found)
        }

        async fn find<K>(&self, name: &str, found: &mut BTreeMap<String, ObjectMeta>) -> Result
        where
            K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
                + Clone
                + Debug
                + DeserializeOwned,
        {
            if let Some(object) = self.api::<K>().get_metadata_opt(name).await? {
                found.insert(format!("{}/{name}", K::kind(&())), object.metadata);
            }
            Ok(())
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

    /// `Kind/name` of each kind, sorted like a `BTreeMap`'s keys.
    pub fn child_names(app: &str, kinds: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = kinds.iter().map(|k| format!("{k}/{app}")).collect();
        names.sort();
        names
    }

    /// A child carries Baseplate's labels and a controller reference to its App.
    pub fn check_owned(child: &str, meta: &ObjectMeta, app: &App) -> Result {
        let labels = meta.labels.clone().unwrap_or_default();
        ensure!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str)
                == Some("baseplate")
                && labels.get("baseplate.dev/app") == Some(&app.name_any()),
            "{child} lacks Baseplate's labels: {labels:?}"
        );
        let controller = meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true));
        ensure!(
            controller
                .is_some_and(|o| o.kind == "App" && Some(&o.uid) == app.metadata.uid.as_ref()),
            "{child} is not controlled by App {}: {:?}",
            app.name_any(),
            meta.owner_references
        );
        Ok(())
    }

    pub fn condition<'a>(app: &'a App, type_: &str) -> Option<&'a Condition> {
        app.status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
    }

    /// `Ok` when the App's condition has this status (and reason, when given).
    pub fn check_condition(app: &App, type_: &str, status: &str, reason: Option<&str>) -> Result {
        let found = condition(app, type_)
            .ok_or_else(|| anyhow!("no {type_} condition in {:?}", app.status))?;
        ensure!(
            found.status == status && reason.is_none_or(|r| found.reason == r),
            "{type_} is {} ({}: {}), want {status} {reason:?}",
            found.status,
            found.reason,
            found.message
        );
        Ok(())
    }

    /// The fields `manager` owns through server-side apply (`fieldsV1`), or `null`.
    pub fn applied_fields(meta: &ObjectMeta, manager: &str) -> Value {
        meta.managed_fields
            .iter()
            .flatten()
            .find(|m| {
                m.manager.as_deref() == Some(manager) && m.operation.as_deref() == Some("Apply")
            })
            .and_then(|m| m.fields_v1.as_ref())
            .map_or(Value::Null, |f| f.0.clone())
    }

    /// The reference App's spec, from examples/my-application.yaml.
    pub fn reference_spec() -> Result<AppSpec> {
        let path = repo_file("examples/my-application.yaml");
        let text = std::fs::read_to_string(&path)?;
        let mut manifests = baseplate_crd::manifest::parse(&path.display().to_string(), &text)
            .map_err(|e| anyhow!("{e}"))?;
        ensure!(manifests.apps.len() == 1, "one App in {}", path.display());
        Ok(manifests.apps.remove(0).spec)
    }

    /// Server-side applies both CRDs and waits until the API server serves them.
    async fn install_crds(client: &Client) -> Result {
        let api = Api::<CustomResourceDefinition>::all(client.clone());
        for crd in baseplate_crd::crds::all() {
            let name = crd.name_any();
            api.patch(
                &name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&crd),
            )
            .await
            .with_context(|| format!("installing CRD {name}"))?;
            eventually(&format!("CRD {name} is Established"), REACT, async || {
                let crd = api.get(&name).await?;
                let established = crd
                    .status
                    .iter()
                    .flat_map(|s| s.conditions.iter().flatten())
                    .any(|c| c.type_ == "Established" && c.status == "True");
                ensure!(established, "not yet");
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// The ClusterRole and ClusterRoleBinding of deploy/rbac.yaml, as `make install` applies them.
    async fn install_cluster_rbac(client: &Client) -> Result {
        let text = std::fs::read_to_string(repo_file("deploy/rbac.yaml"))?;
        let documents: Vec<Value> = serde_saphyr::from_multiple(&text)?;
        for document in documents {
            match document["kind"].as_str() {
                Some("ClusterRole") => {
                    apply_cluster_object::<ClusterRole>(client, document).await?
                }
                Some("ClusterRoleBinding") => {
                    apply_cluster_object::<ClusterRoleBinding>(client, document).await?
                }
                // The lease Role is for leader election, which the tests turn off.
                _ => {}
            }
        }
        Ok(())
    }

    async fn apply_cluster_object<K>(client: &Client, document: Value) -> Result
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
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&object),
            )
            .await
            .with_context(|| format!("applying {} {name}", K::kind(&())))?;
        Ok(())
    }

    /// Deletes a cluster-scoped object (a namespace, a Platform) when dropped, even when the
    /// test panicked: best effort, on a thread with a runtime and client of its own.
    pub struct DeleteOnDrop<K>
    where
        K: Resource<DynamicType = (), Scope = ClusterResourceScope>
            + Clone
            + Debug
            + DeserializeOwned
            + Send
            + 'static,
    {
        name: String,
        kind: PhantomData<fn() -> K>,
    }

    impl<K> DeleteOnDrop<K>
    where
        K: Resource<DynamicType = (), Scope = ClusterResourceScope>
            + Clone
            + Debug
            + DeserializeOwned
            + Send
            + 'static,
    {
        pub fn new(name: &str) -> Self {
            Self {
                name: name.to_string(),
                kind: PhantomData,
            }
        }
    }

    impl<K> Drop for DeleteOnDrop<K>
    where
        K: Resource<DynamicType = (), Scope = ClusterResourceScope>
            + Clone
            + Debug
            + DeserializeOwned
            + Send
            + 'static,
    {
        fn drop(&mut self) {
            let name = self.name.clone();
            let deleted = std::thread::spawn(move || -> Result {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    let api = Api::<K>::all(Client::try_default().await?);
                    match api.delete(&name, &DeleteParams::background()).await {
                        Ok(_) => Ok(()),
                        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                        Err(error) => Err(error.into()),
                    }
                })
            })
            .join();
            if !matches!(deleted, Ok(Ok(()))) {
                eprintln!(
                    "cleanup: could not delete {} {}: {deleted:?}",
                    K::kind(&()),
                    self.name
                );
            }
        }
    }

    /// `baseplate run` as a child process, killed when dropped.
    struct Operator {
        child: Child,
        address: SocketAddr,
        log: PathBuf,
    }

    impl Operator {
        fn spawn(namespace: &str, impersonate: bool) -> Result<Self> {
            // A free port: bind to port 0, note the port, let it go.
            let address = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
            let log = std::env::temp_dir().join(format!("{namespace}-operator.log"));
            let file = std::fs::File::create(&log)?;
            let mut command = Command::new(env!("CARGO_BIN_EXE_baseplate"));
            command
                .args(["run", "--leader-election=false", "--http-address"])
                .arg(address.to_string())
                .env(
                    "RUST_LOG",
                    std::env::var("RUST_LOG").unwrap_or_else(|_| "info,kube=warn".into()),
                )
                .stdin(Stdio::null())
                .stdout(file.try_clone()?)
                .stderr(file);
            if impersonate {
                // kube-rs honours these in `Client::try_default`.
                command
                    .env("KUBE_RS_DEBUG_IMPERSONATE_USER", SERVICE_ACCOUNT)
                    .env("KUBE_RS_DEBUG_IMPERSONATE_GROUP", SERVICE_ACCOUNT_GROUPS);
            }
            let child = command.spawn().context("starting `baseplate run`")?;
            Ok(Self {
                child,
                address,
                log,
            })
        }

        async fn wait_until_ready(&mut self) -> Result {
            let address = self.address;
            let log = self.log.clone();
            let child = &mut self.child;
            eventually("operator /readyz", REACT, async || {
                if let Some(status) = child.try_wait()? {
                    bail!("`baseplate run` exited with {status}:\n{}", tail(&log, 30));
                }
                let status = http_status(address, "/readyz")?;
                ensure!(status == 200, "/readyz answered {status}");
                Ok(())
            })
            .await
        }
    }

    impl Drop for Operator {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            if std::thread::panicking() {
                eprintln!(
                    "--- last lines of the operator log {} ---\n{}",
                    self.log.display(),
                    tail(&self.log, 40)
                );
            }
        }
    }

    fn tail(path: &Path, lines: usize) -> String {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The status code of a plain HTTP GET (no client library needed for a health check).
    fn http_status(address: SocketAddr, path: &str) -> Result<u16> {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| anyhow!("not an HTTP response: {response:?}"))
    }
}

use std::collections::BTreeMap;

use anyhow::ensure;
use baseplate_crd::app::{Autoscaling, IngressSpec, Port, Probe, Secrets};
use baseplate_crd::platform::{PlatformDefaults, PlatformSpec};
use baseplate_crd::{App, AppSpec, Platform};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::*;

const APP: &str = "my-application";

/// The container Baseplate names `app` in the App's Deployment.
fn main_container(deployment: &Deployment) -> &k8s_openapi::api::core::v1::Container {
    let pod = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    pod.containers
        .iter()
        .find(|c| c.name == "app")
        .expect("a container named app")
}

fn pre_stop_sleep(deployment: &Deployment) -> Option<i64> {
    main_container(deployment)
        .lifecycle
        .as_ref()?
        .pre_stop
        .as_ref()?
        .sleep
        .as_ref()
        .map(|s| s.seconds)
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn reference_app_gets_seven_children_with_the_builtin_defaults() -> Result {
    let Some(env) = Env::start("reference").await? else {
        return Ok(());
    };
    env.apply_app(APP, reference_spec()?).await?;
    env.wait_for_children(APP, &SEVEN_KINDS).await?;

    let app = env.reconciled_app(APP).await?;
    let status = app.status.clone().unwrap_or_default();
    ensure!(
        status.platforms.is_empty(),
        "Platforms {:?} select the test namespace, so the built-in defaults cannot be checked",
        status.platforms
    );
    let mut listed = status.children.clone();
    listed.sort();
    assert_eq!(listed, child_names(APP, &SEVEN_KINDS), "status.children");
    check_condition(&app, "Degraded", "False", None)?;
    ensure!(condition(&app, "Ready").is_some() && condition(&app, "Progressing").is_some());

    // Zero-downtime rollouts and graceful shutdown.
    let deployment = env.api::<Deployment>().get(APP).await?;
    let spec = deployment.spec.as_ref().unwrap();
    let rolling = spec
        .strategy
        .as_ref()
        .unwrap()
        .rolling_update
        .as_ref()
        .unwrap();
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(pre_stop_sleep(&deployment), Some(10));
    assert_eq!(spec.min_ready_seconds, Some(5));
    // The HPA owns the replica count: Baseplate never applies spec.replicas (the API server
    // defaults it, so look at who owns it rather than at the value).
    let applied = applied_fields(&deployment.metadata, OPERATOR);
    ensure!(
        applied["f:spec"].is_object(),
        "Baseplate applied the spec: {applied}"
    );
    ensure!(
        applied["f:spec"].get("f:replicas").is_none(),
        "Baseplate must not own spec.replicas under an HPA: {applied}"
    );

    let pdb = env.api::<PodDisruptionBudget>().get(APP).await?;
    assert_eq!(pdb.spec.unwrap().max_unavailable, Some(IntOrString::Int(1)));
    let hpa = env.api::<HorizontalPodAutoscaler>().get(APP).await?;
    let hpa = hpa.spec.unwrap();
    assert_eq!((hpa.min_replicas, hpa.max_replicas), (Some(2), 10));
    assert_eq!(hpa.scale_target_ref.kind, "Deployment");
    assert_eq!(hpa.scale_target_ref.name, APP);

    let config = env.api::<ConfigMap>().get(APP).await?;
    assert_eq!(
        config
            .data
            .unwrap_or_default()
            .get("CURRENT_ENVIRONMENT")
            .map(String::as_str),
        Some("development")
    );
    let service = env.api::<Service>().get(APP).await?;
    let ports = service.spec.unwrap().ports.unwrap_or_default();
    ensure!(
        ports.iter().any(|p| p.port == 80),
        "the Service exposes port 80: {ports:?}"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn a_platform_selecting_the_namespace_changes_the_children() -> Result {
    let Some(env) = Env::start("platform").await? else {
        return Ok(());
    };
    env.apply_app(APP, reference_spec()?).await?;
    env.wait_for_children(APP, &SEVEN_KINDS).await?;
    let deployments = env.api::<Deployment>();
    eventually("the built-in preStop sleep", REACT, async || {
        let sleep = pre_stop_sleep(&deployments.get(APP).await?);
        ensure!(sleep == Some(10), "preStop sleep {sleep:?}");
        Ok(())
    })
    .await?;

    // Cluster-scoped, so named after the namespace to be unique; it selects only that namespace.
    let name = format!("{}-slow-drain", env.namespace);
    let _cleanup = DeleteOnDrop::<Platform>::new(&name);
    let platform = Platform::new(
        &name,
        PlatformSpec {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_string(),
                    env.namespace.clone(),
                )])),
                ..Default::default()
            }),
            defaults: PlatformDefaults {
                pre_stop_sleep_seconds: Some(25),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let platforms = Api::<Platform>::all(env.client.clone());
    platforms
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&platform),
        )
        .await?;

    eventually("the Deployment follows the Platform", REACT, async || {
        let deployment = deployments.get(APP).await?;
        let sleep = pre_stop_sleep(&deployment);
        let grace = deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.termination_grace_period_seconds);
        ensure!(sleep == Some(25), "preStop sleep {sleep:?}");
        ensure!(
            grace >= Some(45),
            "terminationGracePeriodSeconds {grace:?} < sleep + 20"
        );
        Ok(())
    })
    .await?;
    eventually("status.platforms names the Platform", REACT, async || {
        let app = env.app(APP).await?;
        let listed = app.status.map(|s| s.platforms).unwrap_or_default();
        ensure!(listed == vec![name.clone()], "status.platforms {listed:?}");
        Ok(())
    })
    .await?;

    // Deleting the Platform brings the built-in default back.
    platforms.delete(&name, &DeleteParams::default()).await?;
    eventually(
        "the Deployment returns to the built-in default",
        REACT,
        async || {
            let sleep = pre_stop_sleep(&deployments.get(APP).await?);
            ensure!(sleep == Some(10), "preStop sleep {sleep:?}");
            Ok(())
        },
    )
    .await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn turning_the_ingress_off_prunes_it_and_keeps_the_rest() -> Result {
    let Some(env) = Env::start("prune").await? else {
        return Ok(());
    };
    env.apply_app(APP, reference_spec()?).await?;
    let before = env.wait_for_children(APP, &SEVEN_KINDS).await?;

    let mut spec = reference_spec()?;
    spec.ingress = Some(IngressSpec {
        enabled: Some(false),
        ..Default::default()
    });
    env.apply_app(APP, spec).await?;
    let six: Vec<&str> = SEVEN_KINDS
        .into_iter()
        .filter(|k| *k != "Ingress")
        .collect();
    let after = env.wait_for_children(APP, &six).await?;
    for (child, meta) in &after {
        assert_eq!(
            meta.uid, before[child].uid,
            "{child} was kept, not recreated"
        );
    }
    eventually("status.children without the Ingress", REACT, async || {
        let app = env.reconciled_app(APP).await?;
        let mut listed = app.status.unwrap_or_default().children;
        listed.sort();
        ensure!(
            listed == child_names(APP, &six),
            "status.children {listed:?}"
        );
        Ok(())
    })
    .await?;
    ensure!(env.api::<Ingress>().get_opt(APP).await?.is_none());
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn hand_edits_of_owned_fields_are_restored() -> Result {
    let Some(env) = Env::start("drift").await? else {
        return Ok(());
    };
    env.apply_app(APP, reference_spec()?).await?;
    env.wait_for_children(APP, &SEVEN_KINDS).await?;
    env.reconciled_app(APP).await?;

    // Someone edits two children by hand, as `kubectl edit` would (another field manager).
    let by_hand = PatchParams {
        field_manager: Some("e2e-hand-edit".into()),
        ..Default::default()
    };
    let deployments = env.api::<Deployment>();
    let config_maps = env.api::<ConfigMap>();
    deployments
        .patch(
            APP,
            &by_hand,
            &Patch::Merge(json!({"spec": {"minReadySeconds": 99}})),
        )
        .await?;
    config_maps
        .patch(
            APP,
            &by_hand,
            &Patch::Merge(json!({"data": {"CURRENT_ENVIRONMENT": "edited-by-hand"}})),
        )
        .await?;

    eventually(
        "the Deployment's minReadySeconds is restored",
        REACT,
        async || {
            let value = deployments.get(APP).await?.spec.unwrap().min_ready_seconds;
            ensure!(value == Some(5), "minReadySeconds {value:?}");
            Ok(())
        },
    )
    .await?;
    eventually("the ConfigMap's value is restored", REACT, async || {
        let data = config_maps.get(APP).await?.data.unwrap_or_default();
        let value = data.get("CURRENT_ENVIRONMENT").cloned();
        ensure!(
            value.as_deref() == Some("development"),
            "CURRENT_ENVIRONMENT {value:?}"
        );
        Ok(())
    })
    .await?;
    eventually("a DriftCorrected event names both", REACT, async || {
        let notes: String = env
            .events(APP)
            .await?
            .into_iter()
            .filter(|(reason, _)| reason == "DriftCorrected")
            .map(|(_, note)| note)
            .collect::<Vec<_>>()
            .join("\n");
        ensure!(
            notes.contains(&format!("Deployment/{APP}"))
                && notes.contains(&format!("ConfigMap/{APP}")),
            "DriftCorrected notes: {notes:?}"
        );
        Ok(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn deleting_the_app_garbage_collects_its_children() -> Result {
    let Some(env) = Env::start("gc").await? else {
        return Ok(());
    };
    env.apply_app(APP, reference_spec()?).await?;
    env.wait_for_children(APP, &SEVEN_KINDS).await?;

    env.api::<App>()
        .delete(APP, &DeleteParams::default())
        .await?;
    eventually(
        "kube-controller-manager deletes the children",
        GARBAGE_COLLECTION,
        async || {
            let left: Vec<String> = env.children(APP).await?.into_keys().collect();
            ensure!(left.is_empty(), "still there: {left:?}");
            Ok(())
        },
    )
    .await?;
    ensure!(env.api::<App>().get_opt(APP).await?.is_none());
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn an_invalid_app_is_rejected_by_the_api_server_with_the_field_named() -> Result {
    let Some(env) = Env::start("invalid").await? else {
        return Ok(());
    };
    let apps = env.api::<App>();
    let http = vec![Port {
        name: "http".into(),
        container_port: 80,
        protocol: None,
    }];
    let cases = [
        (
            "both-sizes",
            AppSpec {
                image: "nginx:1.27".into(),
                ports: http.clone(),
                replicas: Some(3),
                autoscaling: Some(Autoscaling {
                    enabled: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "spec.replicas",
        ),
        (
            "unknown-port",
            AppSpec {
                image: "nginx:1.27".into(),
                ports: http.clone(),
                readiness_probe: Some(Probe {
                    path: Some("/healthz".into()),
                    port: Some("admin".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "spec.readinessProbe",
        ),
    ];
    for (name, spec, field) in cases {
        let result = apps
            .create(&PostParams::default(), &App::new(name, spec))
            .await;
        match result {
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 422, "{name}: {status:?}");
                ensure!(
                    status.message.contains(field),
                    "{name}: the error names {field}: {}",
                    status.message
                );
                println!("{name}: rejected: {}", status.message);
            }
            other => panic!("{name}: the API server accepted an invalid App: {other:?}"),
        }
        ensure!(apps.get_opt(name).await?.is_none(), "{name} was stored");
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn a_foreign_object_with_the_apps_name_is_left_alone() -> Result {
    let Some(env) = Env::start("conflict").await? else {
        return Ok(());
    };
    let config_maps = env.api::<ConfigMap>();
    let foreign = ConfigMap {
        metadata: ObjectMeta {
            name: Some(APP.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("owner".into(), "someone-else".into())])),
        ..Default::default()
    };
    let created = config_maps
        .create(
            &PostParams {
                field_manager: Some("someone-else".into()),
                ..Default::default()
            },
            &foreign,
        )
        .await?;

    env.apply_app(APP, reference_spec()?).await?;
    eventually("the App reports the conflict", REACT, async || {
        let app = env.app(APP).await?;
        check_condition(&app, "Degraded", "True", Some("NameConflict"))?;
        let message = &condition(&app, "Degraded").unwrap().message;
        ensure!(
            message.contains(&format!("ConfigMap/{APP}")),
            "message: {message}"
        );
        check_condition(&app, "Ready", "False", None)
    })
    .await?;
    // The other children are still made.
    eventually("the other children exist", REACT, async || {
        let found = env.children(APP).await?;
        ensure!(
            found.contains_key(&format!("Deployment/{APP}")),
            "{:?}",
            found.keys()
        );
        Ok(())
    })
    .await?;

    let now = config_maps.get(APP).await?;
    assert_eq!(
        now.metadata.resource_version, created.metadata.resource_version,
        "untouched"
    );
    assert_eq!(now.metadata.owner_references, None);
    assert_eq!(now.metadata.labels, None);
    assert_eq!(now.data, foreign.data);
    ensure!(applied_fields(&now.metadata, OPERATOR).is_null());
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn supplied_secrets_are_waited_for_and_secret_values_are_kept() -> Result {
    let Some(env) = Env::start("secrets").await? else {
        return Ok(());
    };
    let mut spec = reference_spec()?;
    spec.secrets = Some(Secrets {
        generate: vec!["SESSION_KEY".into()],
        supplied: vec!["API_KEY".into()],
    });
    env.apply_app(APP, spec.clone()).await?;
    env.wait_for_children(APP, &SEVEN_KINDS).await?;
    eventually("the App waits for the supplied key", REACT, async || {
        let app = env.app(APP).await?;
        check_condition(&app, "Degraded", "True", Some("WaitingForSecret"))?;
        let message = &condition(&app, "Degraded").unwrap().message;
        ensure!(message.contains("API_KEY"), "message: {message}");
        Ok(())
    })
    .await?;

    let secrets = env.api::<Secret>();
    let secret_data = async || -> Result<BTreeMap<String, String>> {
        let data = secrets.get(APP).await?.data.unwrap_or_default();
        Ok(data
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
            .collect())
    };
    let generated = secret_data().await?;
    let session_key = generated.get("SESSION_KEY").cloned().unwrap_or_default();
    assert_eq!(session_key.len(), 32, "a generated value");
    ensure!(
        !generated.contains_key("API_KEY"),
        "Baseplate never writes a supplied key"
    );

    // Someone supplies the value, as the condition message says to.
    secrets
        .patch(
            APP,
            &PatchParams {
                field_manager: Some("e2e-secret-writer".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"stringData": {"API_KEY": "supplied-by-e2e"}})),
        )
        .await?;
    eventually("the WaitingForSecret condition clears", REACT, async || {
        let app = env.app(APP).await?;
        check_condition(&app, "Degraded", "False", None)
    })
    .await?;

    // An App edit means another reconcile; the values stay as they were.
    spec.env
        .insert("CURRENT_ENVIRONMENT".into(), "staging".into());
    env.apply_app(APP, spec).await?;
    env.reconciled_app(APP).await?;
    eventually("the edit is applied", REACT, async || {
        let data = env
            .api::<ConfigMap>()
            .get(APP)
            .await?
            .data
            .unwrap_or_default();
        ensure!(data.get("CURRENT_ENVIRONMENT").map(String::as_str) == Some("staging"));
        Ok(())
    })
    .await?;
    let after = secret_data().await?;
    assert_eq!(
        after.get("API_KEY").map(String::as_str),
        Some("supplied-by-e2e")
    );
    assert_eq!(
        after.get("SESSION_KEY"),
        Some(&session_key),
        "generated once"
    );
    check_condition(&env.app(APP).await?, "Degraded", "False", None)?;
    Ok(())
}
