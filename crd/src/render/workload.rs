//! The Deployment: the pod template with every zero-downtime and security default.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    ConfigMapKeySelector, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar, EnvVarSource, ExecAction, GRPCAction, HTTPGetAction, HTTPHeader, KeyToPath, Lifecycle,
    LifecycleHandler, LocalObjectReference, PodSpec, PodTemplateSpec, Probe as K8sProbe,
    ResourceRequirements, SecretKeySelector, SleepAction, TCPSocketAction,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::ChildMeta;
use super::config::config_env_keys;
use crate::app::{App, Port, Probe};
use crate::labels;
use crate::settings::{ResourceSettings, Settings};

pub const MAIN_CONTAINER: &str = "app";
const TMP_VOLUME: &str = "tmp";
const CONFIG_VOLUME: &str = "config";

pub(super) fn deployment(
    app: &App,
    settings: &Settings,
    meta: &ChildMeta,
    config_hash: &str,
    secret_hash: &str,
) -> Deployment {
    let mut pod_labels = meta.labels.clone();
    pod_labels.extend(
        app.spec
            .pod_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    // Baseplate's own labels win over anything extra.
    pod_labels.extend(labels::child_labels(&meta.name, &BTreeMap::new()));
    let mut pod_annotations = settings.annotations.clone();
    pod_annotations.extend(
        app.spec
            .pod_annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    pod_annotations.insert(labels::CONFIG_HASH.into(), config_hash.into());
    pod_annotations.insert(labels::SECRET_HASH.into(), secret_hash.into());

    Deployment {
        metadata: meta.object_meta(),
        spec: Some(DeploymentSpec {
            // Under an autoscaler the replica count belongs to the HPA: leaving it out of the
            // applied object keeps server-side apply from fighting over it.
            replicas: settings.autoscaling.is_none().then_some(settings.replicas),
            selector: LabelSelector {
                match_labels: Some(meta.selector()),
                match_expressions: None,
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(settings.max_surge.clone()),
                    max_unavailable: Some(settings.max_unavailable.clone()),
                }),
            }),
            min_ready_seconds: Some(settings.min_ready_seconds),
            progress_deadline_seconds: Some(settings.progress_deadline_seconds),
            revision_history_limit: Some(settings.revision_history_limit),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(pod_annotations),
                    ..Default::default()
                }),
                spec: Some(pod_spec(app, settings, meta)),
            },
            paused: None,
        }),
        status: None,
    }
}

/// The volumes every pod of the App has, and the main container's mounts: a writable `/tmp`
/// (the root filesystem is read-only), the App's own writable `volumes` and, when the App has
/// config files, those files. Sidecars mount the first, `/tmp`, alone.
pub(super) fn pod_volumes(
    app: &App,
    settings: &Settings,
    meta: &ChildMeta,
) -> (Vec<VolumeMount>, Vec<Volume>) {
    let spec = &app.spec;
    let files = spec
        .config
        .as_ref()
        .map(|c| &c.files)
        .filter(|f| !f.is_empty());
    let mut mounts = vec![VolumeMount {
        name: TMP_VOLUME.into(),
        mount_path: crate::mount_path::TMP.into(),
        ..Default::default()
    }];
    let mut volumes = vec![Volume {
        name: TMP_VOLUME.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }];
    for volume in &spec.volumes {
        mounts.push(VolumeMount {
            name: volume.name.clone(),
            mount_path: crate::mount_path::normalised(&volume.mount_path),
            ..Default::default()
        });
        volumes.push(Volume {
            name: volume.name.clone(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: volume.medium.map(|_| "Memory".into()),
                size_limit: volume.size_limit.clone().map(Quantity),
            }),
            ..Default::default()
        });
    }
    if let Some(files) = files {
        mounts.push(VolumeMount {
            name: CONFIG_VOLUME.into(),
            mount_path: crate::mount_path::normalised(&settings.config_mount_path),
            read_only: Some(true),
            ..Default::default()
        });
        volumes.push(Volume {
            name: CONFIG_VOLUME.into(),
            config_map: Some(ConfigMapVolumeSource {
                name: meta.name.clone(),
                // Only the files: the env keys of the same ConfigMap are not files.
                items: Some(
                    files
                        .keys()
                        .map(|k| KeyToPath {
                            key: k.clone(),
                            path: k.clone(),
                            mode: None,
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    (mounts, volumes)
}

fn pod_spec(app: &App, settings: &Settings, meta: &ChildMeta) -> PodSpec {
    let spec = &app.spec;
    let (mounts, volumes) = pod_volumes(app, settings, meta);
    let main = Container {
        name: MAIN_CONTAINER.into(),
        image: Some(spec.image.clone()),
        command: spec.command.clone(),
        args: spec.args.clone(),
        ports: container_ports(&spec.ports),
        env: Some(main_env(app, &meta.name)),
        resources: Some(resources(&settings.resources)),
        readiness_probe: settings
            .readiness_probe
            .as_ref()
            .and_then(|p| probe(p, &spec.ports)),
        liveness_probe: spec
            .liveness_probe
            .as_ref()
            .and_then(|p| probe(p, &spec.ports)),
        startup_probe: spec
            .startup_probe
            .as_ref()
            .and_then(|p| probe(p, &spec.ports)),
        lifecycle: pre_stop_sleep(settings),
        security_context: Some(settings.container_security_context.clone()),
        volume_mounts: Some(mounts.clone()),
        ..Default::default()
    };
    let sidecars = spec.sidecars.iter().map(|s| Container {
        name: s.name.clone(),
        image: Some(s.image.clone()),
        command: s.command.clone(),
        args: s.args.clone(),
        ports: container_ports(&s.ports),
        env: (!s.env.is_empty()).then(|| {
            s.env
                .iter()
                .map(|(k, v)| EnvVar {
                    name: k.clone(),
                    value: Some(v.clone()),
                    value_from: None,
                })
                .collect()
        }),
        resources: settings.sidecar_resources.get(&s.name).map(resources),
        readiness_probe: s.readiness_probe.as_ref().and_then(|p| probe(p, &s.ports)),
        liveness_probe: s.liveness_probe.as_ref().and_then(|p| probe(p, &s.ports)),
        startup_probe: s.startup_probe.as_ref().and_then(|p| probe(p, &s.ports)),
        // Sidecars (proxies above all) must outlive the main container's drain too.
        lifecycle: pre_stop_sleep(settings),
        security_context: Some(settings.container_security_context.clone()),
        volume_mounts: Some(vec![mounts[0].clone()]),
        ..Default::default()
    });

    PodSpec {
        containers: std::iter::once(main).chain(sidecars).collect(),
        volumes: Some(volumes),
        security_context: Some(settings.pod_security_context.clone()),
        automount_service_account_token: Some(settings.automount_service_account_token),
        termination_grace_period_seconds: Some(settings.termination_grace_period_seconds),
        node_selector: settings.placement.node_selector.clone(),
        tolerations: settings.placement.tolerations.clone(),
        affinity: settings.placement.affinity.clone(),
        priority_class_name: settings.placement.priority_class_name.clone(),
        image_pull_secrets: image_pull_secrets(settings),
        topology_spread_constraints: settings.topology_spread.as_ref().map(|t| {
            t.topology_keys
                .iter()
                .map(|key| TopologySpreadConstraint {
                    topology_key: key.clone(),
                    max_skew: t.max_skew,
                    when_unsatisfiable: t.when_unsatisfiable.clone(),
                    label_selector: Some(LabelSelector {
                        match_labels: Some(meta.selector()),
                        match_expressions: None,
                    }),
                    // Spread each ReplicaSet on its own, so a rollout does not skew the new pods.
                    match_label_keys: Some(vec!["pod-template-hash".into()]),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    }
}

/// The pods' image pull Secrets, by name; none when no layer names one.
pub(super) fn image_pull_secrets(settings: &Settings) -> Option<Vec<LocalObjectReference>> {
    (!settings.image_pull_secrets.is_empty()).then(|| {
        settings
            .image_pull_secrets
            .iter()
            .map(|name| LocalObjectReference { name: name.clone() })
            .collect()
    })
}

fn container_ports(ports: &[Port]) -> Option<Vec<ContainerPort>> {
    (!ports.is_empty()).then(|| {
        ports
            .iter()
            .map(|p| ContainerPort {
                name: Some(p.name.clone()),
                container_port: p.container_port,
                protocol: Some(p.protocol.unwrap_or_default().as_str().into()),
                ..Default::default()
            })
            .collect()
    })
}

/// Config env keys from the ConfigMap, then secret keys from the Secret, each by reference so
/// values never sit in the pod spec.
pub(super) fn main_env(app: &App, name: &str) -> Vec<EnvVar> {
    let from_config = config_env_keys(app).into_iter().map(|key| EnvVar {
        name: key.into(),
        value: None,
        value_from: Some(EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name: name.into(),
                key: key.into(),
                optional: None,
            }),
            ..Default::default()
        }),
    });
    let from_secret = app
        .spec
        .secrets
        .iter()
        .flat_map(|s| s.key_names())
        .map(|key| EnvVar {
            name: key.into(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: name.into(),
                    key: key.into(),
                    optional: Some(false),
                }),
                ..Default::default()
            }),
        });
    from_config.chain(from_secret).collect()
}

pub(super) fn resources(r: &ResourceSettings) -> ResourceRequirements {
    let mut limits = BTreeMap::from([("memory".to_string(), Quantity(r.memory_limit.clone()))]);
    if let Some(cpu) = &r.cpu_limit {
        limits.insert("cpu".into(), Quantity(cpu.clone()));
    }
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(r.cpu.clone())),
            ("memory".to_string(), Quantity(r.memory.clone())),
        ])),
        limits: Some(limits),
        claims: None,
    }
}

/// The probe's one handler: a command (`exec`), a gRPC health check, an HTTP GET (a `path`)
/// or else a TCP connect, the last three on the named port or the first TCP one. `None` when
/// the container has no such port (the schema rejects such Apps).
fn probe(p: &Probe, ports: &[Port]) -> Option<K8sProbe> {
    let mut probe = K8sProbe {
        initial_delay_seconds: p.initial_delay_seconds,
        period_seconds: p.period_seconds,
        timeout_seconds: p.timeout_seconds,
        failure_threshold: p.failure_threshold,
        ..Default::default()
    };
    if let Some(exec) = &p.exec {
        probe.exec = Some(ExecAction {
            command: Some(exec.command.clone()),
        });
        return Some(probe);
    }
    let port = match &p.port {
        Some(name) => ports.iter().find(|q| &q.name == name)?,
        None => crate::rules::first_tcp_port(ports)?,
    };
    let target = IntOrString::String(port.name.clone());
    if let Some(grpc) = &p.grpc {
        // The kubelet's gRPC probe takes a number, not a port name.
        probe.grpc = Some(GRPCAction {
            port: port.container_port,
            service: grpc.service.clone(),
        });
    } else if let Some(path) = &p.path {
        probe.http_get = Some(HTTPGetAction {
            path: Some(path.clone()),
            port: target,
            scheme: Some(p.scheme.unwrap_or_default().as_str().into()),
            http_headers: p.http_headers.as_ref().map(|headers| {
                headers
                    .iter()
                    .map(|h| HTTPHeader {
                        name: h.name.clone(),
                        value: h.value.clone(),
                    })
                    .collect()
            }),
            host: None,
        });
    } else {
        probe.tcp_socket = Some(TCPSocketAction {
            port: target,
            host: None,
        });
    }
    Some(probe)
}

/// The native sleep action (GA in 1.34, beta and on by default since 1.30): no shell needed in the image.
fn pre_stop_sleep(settings: &Settings) -> Option<Lifecycle> {
    (settings.pre_stop_sleep_seconds > 0).then(|| Lifecycle {
        pre_stop: Some(LifecycleHandler {
            sleep: Some(SleepAction {
                seconds: settings.pre_stop_sleep_seconds,
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}
