//! What the API server and the kubelet check of the rendered children, written from
//! Kubernetes' own validation (apimachinery's name rules, `ValidatePodSpec`, the Deployment,
//! PDB and Ingress validations) as an oracle the renderer is tested against: a child that
//! breaks one of these would be refused on apply or would never run.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use baseplate_crd::{Children, labels, mount_path, names, quantity};
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec, Probe};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Every problem the API server or the kubelet would have with these children.
pub fn problems(children: &Children) -> Vec<String> {
    let mut found = Vec::new();
    for object in children.to_values() {
        let meta: ObjectMeta = serde_json::from_value(object["metadata"].clone()).unwrap();
        metadata(&format!("{}", object["kind"]), &meta, &mut found);
    }
    for (what, template) in pod_templates(children) {
        if let Some(meta) = &template.metadata {
            metadata(&format!("{what} pod template"), meta, &mut found);
        }
        pod_problems(template, &mut found);
    }
    batch_problems(children, &mut found);
    if let Some(deployment) = children.deployment.as_ref().and_then(|d| d.spec.as_ref()) {
        // The Deployment's rollout.
        if let Some(rolling) = deployment
            .strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
        {
            let surge = rolling.max_surge.as_ref().map(|v| percent_or_count(v, 0));
            let unavailable = rolling
                .max_unavailable
                .as_ref()
                .map(|v| percent_or_count(v, 0));
            for (name, value) in [("maxSurge", surge), ("maxUnavailable", unavailable)] {
                if value == Some(None) {
                    found.push(format!(
                        "rollingUpdate.{name} is not a count or a percentage"
                    ));
                }
            }
            if surge == Some(Some(0)) && unavailable == Some(Some(0)) {
                found.push("rollingUpdate: maxSurge and maxUnavailable are both zero".into());
            }
        }
        if deployment.min_ready_seconds >= deployment.progress_deadline_seconds {
            found.push("minReadySeconds is not below progressDeadlineSeconds".into());
        }
    }
    if let Some(pdb) = &children.pod_disruption_budget
        && let Some(value) = pdb.spec.as_ref().and_then(|s| s.max_unavailable.as_ref())
        && percent_or_count(value, 1).is_none()
    {
        found.push(format!("PDB maxUnavailable {value:?}"));
    }

    // ConfigMap size.
    let size: usize = children
        .config_map
        .data
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if size > 1024 * 1024 {
        found.push(format!("ConfigMap of {size} bytes"));
    }
    for key in children.config_map.data.iter().flatten().map(|(k, _)| k) {
        let valid = !key.is_empty()
            && key.len() <= 253
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            && key != "."
            && !key.starts_with("..");
        if !valid {
            found.push(format!("ConfigMap key {key:?}"));
        }
    }

    // The Ingress.
    if let Some(ingress) = &children.ingress {
        let spec = ingress.spec.as_ref().unwrap();
        if let Some(class) = &spec.ingress_class_name
            && !names::is_dns_subdomain(class)
        {
            found.push(format!("IngressClass {class:?}"));
        }
        let service_ports: BTreeMap<String, String> = children
            .service
            .as_ref()
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                (
                    p.name.unwrap_or_default(),
                    p.protocol.unwrap_or_else(|| "TCP".into()),
                )
            })
            .collect();
        for rule in spec.rules.iter().flatten() {
            let host = rule.host.clone().unwrap_or_default();
            if !names::is_dns_name(&host) {
                found.push(format!("Ingress host {host:?}"));
            }
            for path in rule.http.iter().flat_map(|h| &h.paths) {
                let text = path.path.clone().unwrap_or_default();
                if !text.starts_with('/') || text.contains("..") || text.contains("//") {
                    found.push(format!("Ingress path {text:?}"));
                }
                let port = path
                    .backend
                    .service
                    .as_ref()
                    .and_then(|s| s.port.as_ref())
                    .and_then(|p| p.name.clone())
                    .unwrap_or_default();
                if service_ports.get(&port).map(String::as_str) != Some("TCP") {
                    found.push(format!(
                        "Ingress routes to {port:?}, not a TCP port of the Service"
                    ));
                }
            }
        }
        for tls in spec.tls.iter().flatten() {
            if let Some(secret) = &tls.secret_name
                && !names::is_dns_subdomain(secret)
            {
                found.push(format!("TLS Secret name {secret:?}"));
            }
        }
    }
    found
}

/// Every pod template of the children: the Deployment's, the migration Job's, each CronJob's.
fn pod_templates(children: &Children) -> Vec<(String, &PodTemplateSpec)> {
    let mut templates = Vec::new();
    if let Some(spec) = children.deployment.as_ref().and_then(|d| d.spec.as_ref()) {
        templates.push(("Deployment".to_string(), &spec.template));
    }
    if let Some(spec) = children
        .migration_job
        .as_ref()
        .and_then(|j| j.spec.as_ref())
    {
        templates.push(("migration Job".to_string(), &spec.template));
    }
    for cron in &children.cron_jobs {
        if let Some(spec) = cron
            .spec
            .as_ref()
            .and_then(|c| c.job_template.spec.as_ref())
        {
            let name = cron.metadata.name.clone().unwrap_or_default();
            templates.push((format!("CronJob {name}"), &spec.template));
        }
    }
    templates
}

/// What the API server checks of one pod template (`ValidatePodSpec`), and the kubelet of it.
fn pod_problems(template: &PodTemplateSpec, found: &mut Vec<String>) {
    let pod = template.spec.as_ref().unwrap();
    // Ports: one network per pod.
    let mut port_names = BTreeSet::new();
    let mut sockets = BTreeSet::new();
    for container in &pod.containers {
        for port in container.ports.iter().flatten() {
            let protocol = port.protocol.clone().unwrap_or_else(|| "TCP".into());
            if !port_names.insert(port.name.clone()) {
                found.push(format!("port name {:?} twice in the pod", port.name));
            }
            if !sockets.insert((port.container_port, protocol.clone())) {
                found.push(format!(
                    "port {}/{protocol} twice in the pod",
                    port.container_port
                ));
            }
        }
        for probe in [
            &container.readiness_probe,
            &container.liveness_probe,
            &container.startup_probe,
        ]
        .into_iter()
        .flatten()
        {
            probe_targets_tcp(container, probe, found);
        }
        resources(container, found);
        let mounts: Vec<String> = container
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| mount_path::normalised(&m.mount_path))
            .collect();
        for (i, a) in mounts.iter().enumerate() {
            for b in &mounts[i + 1..] {
                if a == b
                    || b.starts_with(&format!("{a}/"))
                    || a.starts_with(&format!("{b}/"))
                    || a == "/"
                    || b == "/"
                {
                    found.push(format!("{}: mounts {a} and {b} overlap", container.name));
                }
            }
        }
        if let Some(security) = &container.security_context {
            for id in [security.run_as_user, security.run_as_group]
                .into_iter()
                .flatten()
            {
                if !(0..=2_147_483_647).contains(&id) {
                    found.push(format!("{}: user or group ID {id}", container.name));
                }
            }
            if security.privileged == Some(true)
                && security.allow_privilege_escalation == Some(false)
            {
                found.push(format!(
                    "{}: privileged without privilege escalation",
                    container.name
                ));
            }
        }
    }
    if let Some(security) = &pod.security_context {
        let ids = [
            security.run_as_user,
            security.run_as_group,
            security.fs_group,
        ];
        for id in ids
            .into_iter()
            .flatten()
            .chain(security.supplemental_groups.iter().flatten().copied())
        {
            if id < 0 {
                found.push(format!("pod: negative ID {id}"));
            }
        }
    }
    let mut spread = BTreeSet::new();
    for constraint in pod.topology_spread_constraints.iter().flatten() {
        if !labels::is_key(&constraint.topology_key) {
            found.push(format!("topology key {:?}", constraint.topology_key));
        }
        if !spread.insert((
            constraint.topology_key.clone(),
            constraint.when_unsatisfiable.clone(),
        )) {
            found.push(format!("topology key {:?} twice", constraint.topology_key));
        }
    }
}

/// Jobs and CronJobs: a Job's pods must not restart in place, and their names fit the labels
/// their controllers derive from them (`job-name`: 63; a CronJob's runs append 11: 52).
fn batch_problems(children: &Children, found: &mut Vec<String>) {
    let jobs = children
        .migration_job
        .iter()
        .filter_map(|j| Some((j.metadata.name.clone()?, j.spec.as_ref()?, 63)))
        .chain(children.cron_jobs.iter().filter_map(|c| {
            Some((
                c.metadata.name.clone()?,
                c.spec.as_ref()?.job_template.spec.as_ref()?,
                52,
            ))
        }));
    for (name, spec, limit) in jobs {
        if name.len() > limit {
            found.push(format!("{name}: longer than {limit} characters"));
        }
        let restart = spec
            .template
            .spec
            .as_ref()
            .and_then(|p| p.restart_policy.as_deref());
        if !matches!(restart, Some("Never" | "OnFailure")) {
            found.push(format!("{name}: restartPolicy {restart:?} in a Job"));
        }
    }
}

/// Label keys and values, annotation keys and their total size.
fn metadata(what: &str, meta: &ObjectMeta, found: &mut Vec<String>) {
    for (key, value) in meta.labels.iter().flatten() {
        let value_ok = value.len() <= 63 && regex_match(labels::VALUE_PATTERN, value);
        if !labels::is_key(key) || !value_ok {
            found.push(format!("{what}: label {key:?}={value:?}"));
        }
    }
    let annotations = meta.annotations.clone().unwrap_or_default();
    for key in annotations.keys().filter(|k| !labels::is_key(k)) {
        found.push(format!("{what}: annotation key {key:?}"));
    }
    let size = labels::annotations_size(&annotations);
    if size > labels::MAX_ANNOTATIONS_BYTES {
        found.push(format!("{what}: annotations of {size} bytes"));
    }
}

fn regex_match(pattern: &str, text: &str) -> bool {
    regex::Regex::new(pattern).unwrap().is_match(text)
}

/// A count of at least `min` or a percentage from `min`% to 100%, as the value it stands for.
fn percent_or_count(value: &IntOrString, min: i32) -> Option<i32> {
    let n = match value {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let n: i32 = s.strip_suffix('%')?.parse().ok()?;
            (n <= 100).then_some(n)?
        }
    };
    (n >= min).then_some(n)
}

/// One handler (`ValidateProbe`); an exec probe with a command, every other on a TCP port of
/// the container (HTTP and TCP by name, gRPC by number, as the kubelet's gRPC probe takes it).
fn probe_targets_tcp(container: &Container, probe: &Probe, found: &mut Vec<String>) {
    let handlers = [
        probe.exec.is_some(),
        probe.http_get.is_some(),
        probe.tcp_socket.is_some(),
        probe.grpc.is_some(),
    ];
    if handlers.iter().filter(|set| **set).count() != 1 {
        found.push(format!(
            "{}: a probe without exactly one handler",
            container.name
        ));
        return;
    }
    if let Some(exec) = &probe.exec {
        if exec.command.as_ref().is_none_or(Vec::is_empty) {
            found.push(format!(
                "{}: an exec probe without a command",
                container.name
            ));
        }
        return;
    }
    let ports = container.ports.iter().flatten();
    let tcp = |p: &&k8s_openapi::api::core::v1::ContainerPort| {
        p.protocol.as_deref().unwrap_or("TCP") == "TCP"
    };
    if let Some(grpc) = &probe.grpc {
        if !ports.filter(tcp).any(|p| p.container_port == grpc.port) {
            found.push(format!(
                "{}: a gRPC probe on {}, not a TCP port of the container",
                container.name, grpc.port
            ));
        }
        return;
    }
    let target = probe
        .http_get
        .as_ref()
        .map(|h| &h.port)
        .or(probe.tcp_socket.as_ref().map(|t| &t.port));
    let Some(IntOrString::String(name)) = target else {
        found.push(format!("{}: a probe not on a named port", container.name));
        return;
    };
    if !ports.filter(tcp).any(|p| p.name.as_ref() == Some(name)) {
        found.push(format!(
            "{}: a probe on {name:?}, not a TCP port of the container",
            container.name
        ));
    }
}

fn resources(container: &Container, found: &mut Vec<String>) {
    let Some(resources) = &container.resources else {
        return;
    };
    let requests = resources.requests.clone().unwrap_or_default();
    let limits = resources.limits.clone().unwrap_or_default();
    for (name, limit) in &limits {
        if let Some(request) = requests.get(name)
            && quantity::compare(&request.0, &limit.0) == Some(std::cmp::Ordering::Greater)
        {
            found.push(format!(
                "{}: {name} limit {} below its request {}",
                container.name, limit.0, request.0
            ));
        }
    }
    for value in requests
        .get("memory")
        .into_iter()
        .chain(limits.get("memory"))
    {
        if quantity::is_whole(&value.0) != Some(true) {
            found.push(format!(
                "{}: memory {} is not whole bytes",
                container.name, value.0
            ));
        }
    }
}
