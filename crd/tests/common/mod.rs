//! Helpers shared by the integration tests: parsing Apps and Platforms from YAML the way
//! `baseplate render` does, a deterministic secret state, and small accessors into the
//! rendered objects.
#![allow(dead_code)]

pub mod api_rules;
pub mod cases;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baseplate_crd::manifest::{self, Manifests};
pub use baseplate_crd::names::is_dns_label;
use baseplate_crd::{App, Children, EffectivePlatform, Platform, RenderError, SecretState};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Container, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const NAMESPACE: &str = "default";

/// Parses a YAML stream strictly and with admission, as `baseplate render` does; Apps without a
/// namespace get [`NAMESPACE`].
pub fn parse(yaml: &str) -> Manifests {
    let mut manifests =
        manifest::parse("test", yaml).unwrap_or_else(|e| panic!("{e}\n---\n{yaml}"));
    for app in &mut manifests.apps {
        app.metadata
            .namespace
            .get_or_insert_with(|| NAMESPACE.into());
    }
    manifests
}

/// The one App of a YAML document.
pub fn app(yaml: &str) -> App {
    let mut manifests = parse(yaml);
    assert_eq!(manifests.apps.len(), 1, "expected exactly one App");
    manifests.apps.remove(0)
}

/// The Platforms of a YAML stream.
pub fn platforms(yaml: &str) -> Vec<Platform> {
    parse(yaml).platforms
}

/// A minimal App with the given `spec` body (indented YAML under `spec:`).
pub fn app_with_spec(name: &str, spec: &str) -> App {
    app(&format!(
        "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata:\n  name: {name}\nspec:\n{}",
        indent(spec, 2)
    ))
}

/// A Platform with the given `spec` body.
pub fn platform_with_spec(name: &str, spec: &str) -> Platform {
    let mut found = platforms(&format!(
        "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata:\n  name: {name}\nspec:\n{}",
        indent(spec, 2)
    ));
    assert_eq!(found.len(), 1);
    found.remove(0)
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// Deterministic secret values: every declared key (generated and supplied) gets
/// `value-of-<KEY>`, so renders are stable and the secret hash is known to change only with them.
pub fn fixed_secrets(app: &App) -> SecretState {
    let values = app
        .spec
        .secrets
        .iter()
        .flat_map(|s| s.key_names())
        .map(|k| {
            (
                k.to_string(),
                ByteString(format!("value-of-{k}").into_bytes()),
            )
        })
        .collect::<BTreeMap<_, _>>();
    SecretState::new(values)
}

/// Platforms that apply to a namespace with no labels.
pub fn select(platforms: &[Platform]) -> EffectivePlatform {
    EffectivePlatform::select(platforms, &BTreeMap::new())
}

pub fn try_render(app: &App, platforms: &[Platform]) -> Result<Children, RenderError> {
    baseplate_crd::render(app, &select(platforms), &fixed_secrets(app))
}

/// Renders with the given Platforms (matched against an unlabelled namespace); panics on error.
pub fn render_with(app: &App, platforms: &[Platform]) -> Children {
    try_render(app, platforms).unwrap_or_else(|e| panic!("render failed: {e}"))
}

/// Renders with the built-in defaults only.
pub fn render(app: &App) -> Children {
    render_with(app, &[])
}

/// The serialized output, exactly as `baseplate render` prints it.
pub fn to_yaml(children: &Children) -> String {
    manifest::to_yaml_stream(children.to_values())
}

pub fn pod_spec(children: &Children) -> &PodSpec {
    children
        .deployment
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("Deployment has a pod template spec")
}

pub fn containers(children: &Children) -> &[Container] {
    &pod_spec(children).containers
}

pub fn main_container(children: &Children) -> &Container {
    let main = &containers(children)[0];
    assert_eq!(main.name, "app", "the main container comes first");
    main
}

pub fn pod_labels(children: &Children) -> &BTreeMap<String, String> {
    children
        .deployment
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.as_ref())
        .expect("pod template has labels")
}

pub fn pod_annotations(children: &Children) -> &BTreeMap<String, String> {
    children
        .deployment
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .expect("pod template has annotations")
}

pub fn deployment_selector(children: &Children) -> &BTreeMap<String, String> {
    children
        .deployment
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .expect("Deployment selects by matchLabels")
}

/// `examples/` at the repository root.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Every `examples/*.yaml`, sorted by file name, with its text.
pub fn example_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("example is readable");
            (stem, text)
        })
        .collect();
    files.sort();
    files
}

/// The Platform of `examples/platform.yaml`.
pub fn example_platform() -> Platform {
    let text = std::fs::read_to_string(examples_dir().join("platform.yaml"))
        .expect("examples/platform.yaml");
    let mut found = platforms(&text);
    assert_eq!(found.len(), 1, "examples/platform.yaml holds one Platform");
    found.remove(0)
}

/// Every port a probe, the Service or the Ingress names exists on the container.
pub fn assert_ports_exist(children: &Children) {
    let main = main_container(children);
    let port_names = |c: &Container| -> Vec<String> {
        c.ports
            .iter()
            .flatten()
            .filter_map(|p| p.name.clone())
            .collect()
    };
    for container in containers(children) {
        let names = port_names(container);
        for probe in [
            &container.readiness_probe,
            &container.liveness_probe,
            &container.startup_probe,
        ]
        .into_iter()
        .flatten()
        {
            if probe.exec.is_some() {
                continue; // A command in the container: no port.
            }
            if let Some(grpc) = &probe.grpc {
                assert!(
                    container
                        .ports
                        .iter()
                        .flatten()
                        .any(|p| p.container_port == grpc.port),
                    "{} has a gRPC probe on {}, not one of its ports",
                    container.name,
                    grpc.port
                );
                continue;
            }
            let port = probe_port(probe);
            assert!(
                names.contains(&port),
                "{} probes port {port}, not one of {names:?}",
                container.name
            );
        }
    }
    let main_ports = port_names(main);
    if let Some(service) = &children.service {
        for port in service.spec.as_ref().unwrap().ports.as_ref().unwrap() {
            let Some(IntOrString::String(target)) = &port.target_port else {
                panic!("targetPort by name")
            };
            assert!(
                main_ports.contains(target),
                "Service targets {target}, not one of {main_ports:?}"
            );
            let container_port = main
                .ports
                .as_ref()
                .unwrap()
                .iter()
                .find(|p| p.name.as_ref() == Some(target))
                .unwrap();
            assert_eq!(port.port, container_port.container_port);
        }
    }
    if let Some(ingress) = &children.ingress {
        let service_ports: Vec<String> = children
            .service
            .as_ref()
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.name.clone())
            .collect();
        for rule in ingress.spec.as_ref().unwrap().rules.iter().flatten() {
            for path in &rule.http.as_ref().unwrap().paths {
                let port = path
                    .backend
                    .service
                    .as_ref()
                    .unwrap()
                    .port
                    .as_ref()
                    .unwrap()
                    .name
                    .clone()
                    .unwrap();
                assert!(
                    service_ports.contains(&port),
                    "Ingress routes to {port}, not one of {service_ports:?}"
                );
            }
        }
    }
}

/// The port name an HTTP or TCP probe targets.
pub fn probe_port(probe: &Probe) -> String {
    let port = probe
        .http_get
        .as_ref()
        .map(|h| &h.port)
        .or(probe.tcp_socket.as_ref().map(|t| &t.port))
        .expect("an HTTP or TCP probe");
    match port {
        IntOrString::String(name) => name.clone(),
        IntOrString::Int(n) => panic!("probe on port number {n}, not by name"),
    }
}

/// The PDB, the Service and every spread constraint select exactly what the Deployment selects,
/// and the pods carry every label of that selector.
pub fn assert_selectors_agree(children: &Children) {
    let selector = deployment_selector(children);
    assert!(!selector.is_empty());
    if let Some(pdb) = &children.pod_disruption_budget {
        let pdb_selector = pdb.spec.as_ref().unwrap().selector.as_ref().unwrap();
        assert_eq!(
            pdb_selector.match_labels.as_ref(),
            Some(selector),
            "PDB selector"
        );
        assert!(pdb_selector.match_expressions.is_none());
    }
    if let Some(service) = &children.service {
        assert_eq!(
            service.spec.as_ref().unwrap().selector.as_ref(),
            Some(selector),
            "Service selector"
        );
    }
    for constraint in pod_spec(children)
        .topology_spread_constraints
        .iter()
        .flatten()
    {
        let spread = constraint.label_selector.as_ref().unwrap();
        assert_eq!(
            spread.match_labels.as_ref(),
            Some(selector),
            "topology spread selector"
        );
    }
    let pods = pod_labels(children);
    for (key, value) in selector {
        assert_eq!(
            pods.get(key),
            Some(value),
            "pods must carry selector label {key}"
        );
    }
}

/// Every object, container and volume name is a DNS-1123 label; port names are IANA service names.
pub fn assert_names_valid(children: &Children) {
    for object in children.to_values() {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        assert!(is_dns_label(name), "{} name {name:?}", object["kind"]);
    }
    let pod = pod_spec(children);
    for container in &pod.containers {
        assert!(
            is_dns_label(&container.name),
            "container {:?}",
            container.name
        );
        for port in container.ports.iter().flatten() {
            let name = port.name.as_deref().unwrap_or_default();
            assert!(is_dns_label(name) && name.len() <= 15, "port {name:?}");
        }
    }
    for volume in pod.volumes.iter().flatten() {
        assert!(is_dns_label(&volume.name), "volume {:?}", volume.name);
    }
}

/// The kind of a render error by name, as the tests compare it. Nothing outside the tests
/// needs it: the operator reports its own degradation reasons.
pub trait Reason {
    fn reason(&self) -> &'static str;
}

impl Reason for RenderError {
    fn reason(&self) -> &'static str {
        match self {
            RenderError::InvalidSpec(_) => "InvalidSpec",
            RenderError::PolicyViolation(_) => "PolicyViolation",
            RenderError::GeneratedSecretMissing(_) => "GeneratedSecretMissing",
        }
    }
}
