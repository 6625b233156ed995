//! Checks the install manifests in `deploy/` without a cluster and without kustomize: every
//! file is parsed into the k8s-openapi types (a misspelled field fails the round trip), and
//! the properties the operator relies on are asserted: least-privilege RBAC, a restricted
//! non-root pod, probes on the operator's own endpoints, flags `baseplate run` accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use baseplate_crd::ChildKind;
use baseplate_operator::cli::{Cli, Command};
use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Namespace, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;
use serde_json::Value;

const NAMESPACE: &str = "baseplate-system";
const SERVICE_ACCOUNT: &str = "baseplate";
/// The user of the distroless `nonroot` image the Dockerfile builds.
const NONROOT_UID: i64 = 65532;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every document of every resource the kustomization lists, as JSON values.
struct Manifests {
    documents: Vec<(String, Value)>,
}

impl Manifests {
    fn load() -> Self {
        let kustomization: Value = read_yaml("kustomization.yaml").remove(0);
        let resources: Vec<String> = kustomization["resources"]
            .as_array()
            .expect("kustomization.yaml lists resources")
            .iter()
            .map(|r| r.as_str().expect("resource paths are strings").to_string())
            .collect();
        let documents = resources
            .iter()
            .flat_map(|file| {
                read_yaml(file)
                    .into_iter()
                    .filter(|d| !d.is_null())
                    .map(move |d| (file.clone(), d))
            })
            .collect();
        Self { documents }
    }

    /// All objects of one kind, parsed strictly into their type.
    fn all<K: k8s_openapi::Resource + DeserializeOwned + serde::Serialize>(&self) -> Vec<K> {
        self.documents
            .iter()
            .filter(|(_, d)| d["kind"] == K::KIND && d["apiVersion"] == K::API_VERSION)
            .map(|(file, d)| strict::<K>(file, d))
            .collect()
    }

    /// The one object of this kind.
    fn one<K: k8s_openapi::Resource + DeserializeOwned + serde::Serialize>(&self) -> K {
        let mut all = self.all::<K>();
        assert_eq!(all.len(), 1, "expected exactly one {} in deploy/", K::KIND);
        all.remove(0)
    }
}

fn read_yaml(file: &str) -> Vec<Value> {
    let path = deploy_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Parses a document into `K` and checks nothing was lost on the way: k8s-openapi ignores
/// unknown fields, so a typo such as `readOnlyRootFileSystem` would otherwise pass unseen.
fn strict<K: DeserializeOwned + serde::Serialize>(file: &str, document: &Value) -> K {
    let typed: K = serde_json::from_value(document.clone())
        .unwrap_or_else(|e| panic!("{file}: {} does not parse: {e}", document["kind"]));
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(
        &back, document,
        "{file}: {} {} has fields its type does not know (a typo?)",
        document["kind"], document["metadata"]["name"]
    );
    typed
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let kustomization: Value = read_yaml("kustomization.yaml").remove(0);
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(deploy_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    assert_eq!(listed, on_disk, "deploy/kustomization.yaml resources");
    // The image can be overridden with kustomize `images:` under the name the Deployment uses.
    assert_eq!(kustomization["images"][0]["name"], "baseplate");
}

#[test]
fn every_namespaced_object_lives_in_the_operator_namespace() {
    let manifests = Manifests::load();
    let namespace: Namespace = manifests.one();
    assert_eq!(namespace.metadata.name.as_deref(), Some(NAMESPACE));
    let labels = namespace.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("restricted")
    );
    for (file, document) in &manifests.documents {
        let kind = document["kind"].as_str().unwrap_or_default();
        let cluster_scoped = matches!(
            kind,
            "Namespace" | "CustomResourceDefinition" | "ClusterRole" | "ClusterRoleBinding"
        );
        let namespace = document["metadata"]["namespace"].as_str();
        if cluster_scoped {
            assert_eq!(namespace, None, "{file}: {kind} is cluster-scoped");
        } else {
            assert_eq!(namespace, Some(NAMESPACE), "{file}: {kind} namespace");
        }
    }
    let account: ServiceAccount = manifests.one();
    assert_eq!(account.metadata.name.as_deref(), Some(SERVICE_ACCOUNT));
}

#[test]
fn the_crds_are_the_generated_ones() {
    let manifests = Manifests::load();
    let crds: Vec<CustomResourceDefinition> = manifests.all();
    let names: BTreeSet<_> = crds
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "apps.baseplate.dev".to_string(),
            "platforms.baseplate.dev".to_string()
        ])
    );
    let generated: Vec<Value> = baseplate_crd::crds::all()
        .iter()
        .map(|crd| serde_json::to_value(crd).unwrap())
        .collect();
    let committed: Vec<Value> = crds
        .iter()
        .map(|crd| serde_json::to_value(crd).unwrap())
        .collect();
    assert!(
        generated == committed,
        "deploy/crds.yaml is stale: run `make crds`"
    );
}

/// (apiGroup, resource) → verbs: exactly the calls `baseplate run` makes.
fn expected_cluster_rules() -> BTreeMap<(&'static str, &'static str), BTreeSet<&'static str>> {
    let child = ["get", "list", "watch", "create", "patch", "delete"];
    let mut rules = BTreeMap::new();
    rules.insert(("baseplate.dev", "apps"), ["list", "watch"].into());
    rules.insert(("baseplate.dev", "apps/status"), ["patch"].into());
    rules.insert(("baseplate.dev", "platforms"), ["list", "watch"].into());
    rules.insert(("baseplate.dev", "platforms/status"), ["patch"].into());
    rules.insert(("", "namespaces"), ["list", "watch"].into());
    // From the enum, so a child kind added without its RBAC rule fails this test.
    for kind in ChildKind::ALL {
        rules.insert((kind.group(), kind.plural()), child.into());
    }
    rules.insert(("events.k8s.io", "events"), ["create", "patch"].into());
    // Read through label-filtered caches, to tell why new pods do not start; a failed
    // migration Job's pods are also listed by the Job's UID, for their exit code.
    rules.insert(("", "pods"), ["list", "watch"].into());
    rules.insert(("apps", "replicasets"), ["list", "watch"].into());
    rules
}

/// Flattens RBAC rules into (apiGroup, resource) → verbs, refusing wildcards and the
/// rule kinds the operator never needs.
fn flatten(
    rules: &[k8s_openapi::api::rbac::v1::PolicyRule],
) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut flat: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for rule in rules {
        assert!(
            rule.non_resource_urls.is_none(),
            "no non-resource URLs: {rule:?}"
        );
        assert!(
            !rule.verbs.iter().any(|v| v.contains('*')),
            "wildcard verb: {rule:?}"
        );
        let groups = rule.api_groups.clone().unwrap_or_default();
        let resources = rule.resources.clone().unwrap_or_default();
        assert!(
            !groups.is_empty() && !resources.is_empty(),
            "empty rule: {rule:?}"
        );
        for group in &groups {
            assert!(!group.contains('*'), "wildcard apiGroup: {rule:?}");
            for resource in &resources {
                assert!(!resource.contains('*'), "wildcard resource: {rule:?}");
                flat.entry((group.clone(), resource.clone()))
                    .or_default()
                    .extend(rule.verbs.iter().cloned());
            }
        }
    }
    flat
}

fn owned(
    rules: BTreeMap<(&'static str, &'static str), BTreeSet<&'static str>>,
) -> BTreeMap<(String, String), BTreeSet<String>> {
    rules
        .into_iter()
        .map(|((g, r), verbs)| {
            (
                (g.to_string(), r.to_string()),
                verbs.into_iter().map(String::from).collect(),
            )
        })
        .collect()
}

fn is_operator_account(subjects: &Option<Vec<Subject>>) -> bool {
    matches!(subjects.as_deref(), Some([s])
        if s.kind == "ServiceAccount"
            && s.name == SERVICE_ACCOUNT
            && s.namespace.as_deref() == Some(NAMESPACE))
}

#[test]
fn the_cluster_role_grants_exactly_what_the_operator_calls() {
    let manifests = Manifests::load();
    let role: ClusterRole = manifests.one();
    assert!(role.aggregation_rule.is_none());
    let granted = flatten(role.rules.as_deref().unwrap_or_default());
    assert_eq!(granted, owned(expected_cluster_rules()));
    // Nothing may be updated (PUT) or deleted in bulk, Apps' specs are never written and
    // Secrets are never listed in full by name elsewhere than the App's own namespace calls.
    for verbs in granted.values() {
        assert!(!verbs.contains("update") && !verbs.contains("deletecollection"));
    }
    for rule in role.rules.iter().flatten() {
        assert!(rule.resource_names.is_none(), "{rule:?}");
    }

    let binding: ClusterRoleBinding = manifests.one();
    assert_eq!(binding.role_ref.kind, "ClusterRole");
    assert_eq!(Some(&binding.role_ref.name), role.metadata.name.as_ref());
    assert!(
        is_operator_account(&binding.subjects),
        "{:?}",
        binding.subjects
    );
}

#[test]
fn leases_and_platform_revisions_are_granted_only_in_the_operator_namespace() {
    let manifests = Manifests::load();
    let role: Role = manifests.one();
    assert_eq!(role.metadata.namespace.as_deref(), Some(NAMESPACE));
    let granted = flatten(role.rules.as_deref().unwrap_or_default());
    assert_eq!(
        granted,
        owned(BTreeMap::from([
            (
                ("coordination.k8s.io", "leases"),
                ["get", "create", "patch"].into()
            ),
            (
                ("apps", "controllerrevisions"),
                ["list", "watch", "create", "patch", "delete"].into()
            ),
        ]))
    );
    let binding: RoleBinding = manifests.one();
    assert_eq!(binding.role_ref.kind, "Role");
    assert_eq!(Some(&binding.role_ref.name), role.metadata.name.as_ref());
    assert!(is_operator_account(&binding.subjects));
}

fn operator_container(deployment: &Deployment) -> Container {
    let pod = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    assert_eq!(pod.containers.len(), 1);
    pod.containers[0].clone()
}

#[test]
fn the_operator_runs_restricted_and_non_root() {
    let manifests = Manifests::load();
    let deployment: Deployment = manifests.one();
    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some(SERVICE_ACCOUNT));
    assert_ne!(pod.automount_service_account_token, Some(false));
    assert!(pod.host_network.is_none() && pod.host_pid.is_none() && pod.host_ipc.is_none());
    let pod_security = pod.security_context.as_ref().unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(pod_security.run_as_user, Some(NONROOT_UID));
    assert_eq!(
        pod_security
            .seccomp_profile
            .as_ref()
            .map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );

    let container = operator_container(&deployment);
    assert_eq!(container.image.as_deref(), Some("baseplate:latest"));
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.privileged, None);
    let capabilities = security.capabilities.as_ref().unwrap();
    assert_eq!(capabilities.drop.as_deref(), Some(&["ALL".to_string()][..]));
    assert_eq!(capabilities.add, None);
    assert_eq!(
        security.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );

    let resources = container.resources.as_ref().unwrap();
    let requests = resources.requests.as_ref().unwrap();
    assert_eq!(requests["cpu"].0, "50m");
    assert_eq!(requests["memory"].0, "64Mi");
    assert!(resources.limits.as_ref().unwrap().contains_key("memory"));

    let spread = pod
        .topology_spread_constraints
        .as_deref()
        .unwrap_or_default();
    assert!(
        spread
            .iter()
            .any(|c| c.topology_key == "kubernetes.io/hostname"),
        "{spread:?}"
    );
}

#[test]
fn the_operator_is_configured_through_flags_it_accepts() {
    let deployment: Deployment = Manifests::load().one();
    let container = operator_container(&deployment);
    // The image's entrypoint is `/baseplate run`; the container adds only arguments.
    assert_eq!(container.command, None);
    let args = container.args.clone().unwrap_or_default();
    let cli = Cli::try_parse_from(
        ["baseplate", "run"]
            .into_iter()
            .map(String::from)
            .chain(args),
    )
    .unwrap_or_else(|e| panic!("the Deployment's args are not valid `baseplate run` flags: {e}"));
    let Command::Run(run) = cli.command else {
        panic!("not `run`")
    };
    assert!(matches!(
        run.log_format,
        baseplate_operator::telemetry::LogFormat::Json
    ));
    assert!(run.leader_election, "two replicas need leader election");
    let port = run.http_address.port();

    // The lease identity and namespace come from the downward API.
    let env: BTreeMap<String, String> = container
        .env
        .iter()
        .flatten()
        .filter_map(|e| {
            let field = e.value_from.as_ref()?.field_ref.as_ref()?;
            Some((e.name.clone(), field.field_path.clone()))
        })
        .collect();
    assert_eq!(
        env.get("POD_NAME").map(String::as_str),
        Some("metadata.name")
    );
    assert_eq!(
        env.get("POD_NAMESPACE").map(String::as_str),
        Some("metadata.namespace")
    );

    // Probes hit the operator's own endpoints on the port it serves them on.
    let ports: BTreeMap<String, i32> = container
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap_or_default(), p.container_port))
        .collect();
    let resolve = |port: &IntOrString| match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => *ports.get(name).unwrap_or_else(|| panic!("no port {name}")),
    };
    for (probe, path) in [
        (&container.liveness_probe, "/healthz"),
        (&container.readiness_probe, "/readyz"),
    ] {
        let http = probe.as_ref().and_then(|p| p.http_get.as_ref()).unwrap();
        assert_eq!(http.path.as_deref(), Some(path));
        assert_eq!(resolve(&http.port), i32::from(port));
        assert_eq!(port, 8080);
    }
}

#[test]
fn the_disruption_budget_and_metrics_service_select_the_operator_pods() {
    let manifests = Manifests::load();
    let deployment: Deployment = manifests.one();
    let spec = deployment.spec.as_ref().unwrap();
    let pod_labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    let selector = spec.selector.match_labels.clone().unwrap();
    assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));

    let pdb: PodDisruptionBudget = manifests.one();
    let pdb_spec = pdb.spec.unwrap();
    assert_eq!(pdb_spec.selector.unwrap().match_labels.unwrap(), selector);
    assert_eq!(pdb_spec.max_unavailable, Some(IntOrString::Int(1)));

    let service: Service = manifests.one();
    let service_spec = service.spec.unwrap();
    assert_eq!(service_spec.selector.unwrap(), selector);
    let container = operator_container(&deployment);
    let metrics = &service_spec.ports.unwrap()[0];
    assert_eq!(metrics.port, 8080);
    let target = match metrics.target_port.as_ref().unwrap() {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => {
            container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name))
                .unwrap()
                .container_port
        }
    };
    assert_eq!(target, 8080);
}

#[test]
fn the_image_runs_as_the_user_the_pod_expects() {
    let dockerfile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Dockerfile"))
            .expect("Dockerfile at the repository root");
    let lines: Vec<&str> = dockerfile.lines().map(str::trim).collect();
    assert!(
        lines.contains(&r#"ENTRYPOINT ["/baseplate", "run"]"#),
        "the Deployment passes only `run` flags"
    );
    assert!(
        lines.iter().any(|l| *l == format!("USER {NONROOT_UID}")
            || l.starts_with(&format!("USER {NONROOT_UID}:"))),
        "USER must match the pod's runAsUser"
    );
    assert!(lines.iter().any(|l| l.contains("--locked")));
}
