//! One test per built-in default (see `crd/src/builtin.rs`), each checked on the rendered
//! objects the way a user would check them with `kubectl get -o yaml`.

mod common;

use std::collections::BTreeMap;

use baseplate_crd::labels;
use common::{
    app_with_spec, containers, deployment_selector, main_container, pod_annotations, pod_labels,
    pod_spec, render,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// A web app with two ports and a sidecar: enough to see every default on every container.
fn web() -> baseplate_crd::App {
    app_with_spec(
        "web",
        "image: registry.example.com/web:1.0
ports:
  - name: http
    containerPort: 8080
  - name: admin
    containerPort: 9000
sidecars:
  - name: proxy
    image: envoyproxy/envoy:v1.31.0
    ports:
      - name: envoy
        containerPort: 15000
",
    )
}

fn worker(extra: &str) -> baseplate_crd::App {
    app_with_spec(
        "worker",
        &format!("image: registry.example.com/worker:1.0\n{extra}"),
    )
}

#[test]
fn rolling_update_surges_25_percent_and_never_drops_below_the_desired_count() {
    let children = render(&web());
    let strategy = children
        .deployment
        .spec
        .as_ref()
        .unwrap()
        .strategy
        .as_ref()
        .unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.as_ref().unwrap();
    assert_eq!(rolling.max_surge, Some(IntOrString::String("25%".into())));
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
}

#[test]
fn every_container_sleeps_10_seconds_in_pre_stop_with_the_native_sleep_action() {
    let children = render(&web());
    assert_eq!(containers(&children).len(), 2);
    for container in containers(&children) {
        let pre_stop = container
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.as_ref())
            .unwrap_or_else(|| panic!("{} has no preStop", container.name));
        assert_eq!(
            pre_stop.sleep.as_ref().map(|s| s.seconds),
            Some(10),
            "{}",
            container.name
        );
        // No shell needed in the image.
        assert!(
            pre_stop.exec.is_none() && pre_stop.http_get.is_none() && pre_stop.tcp_socket.is_none()
        );
    }
}

#[test]
fn grace_period_covers_the_pre_stop_sleep_plus_20_seconds() {
    let children = render(&web());
    let pre_stop = main_container(&children)
        .lifecycle
        .as_ref()
        .unwrap()
        .pre_stop
        .as_ref()
        .unwrap()
        .sleep
        .as_ref()
        .unwrap()
        .seconds;
    let grace = pod_spec(&children)
        .termination_grace_period_seconds
        .unwrap();
    assert!(
        grace >= pre_stop + 20,
        "grace {grace} < preStop {pre_stop} + 20"
    );
    assert_eq!(grace, 30);
}

#[test]
fn min_ready_seconds_is_5() {
    assert_eq!(
        render(&web()).deployment.spec.unwrap().min_ready_seconds,
        Some(5)
    );
}

#[test]
fn progress_deadline_is_600_seconds() {
    assert_eq!(
        render(&web())
            .deployment
            .spec
            .unwrap()
            .progress_deadline_seconds,
        Some(600)
    );
}

#[test]
fn revision_history_keeps_5_replica_sets() {
    assert_eq!(
        render(&web())
            .deployment
            .spec
            .unwrap()
            .revision_history_limit,
        Some(5)
    );
}

#[test]
fn readiness_is_a_tcp_probe_on_the_first_port_and_there_is_no_liveness_probe() {
    let children = render(&web());
    let main = main_container(&children);
    let readiness = main
        .readiness_probe
        .as_ref()
        .expect("a default readiness probe");
    assert_eq!(
        readiness.tcp_socket.as_ref().map(|t| &t.port),
        Some(&IntOrString::String("http".into()))
    );
    assert!(readiness.http_get.is_none());
    assert_eq!(readiness.period_seconds, Some(5));
    assert_eq!(readiness.failure_threshold, Some(3));
    assert!(
        main.liveness_probe.is_none(),
        "liveness only when asked for"
    );
    assert!(main.startup_probe.is_none());
    // The default applies to the main container only: a sidecar probes only what it declares.
    let sidecar = &containers(&children)[1];
    assert!(sidecar.readiness_probe.is_none() && sidecar.liveness_probe.is_none());

    // Asked for: the liveness probe appears, on the named port.
    let asked = render(&app_with_spec(
        "web",
        "image: web:1\nports:\n  - {name: http, containerPort: 8080}\n  - {name: admin, containerPort: 9000}\nlivenessProbe:\n  path: /live\n  port: admin\n",
    ));
    let liveness = main_container(&asked)
        .liveness_probe
        .as_ref()
        .expect("the liveness probe asked for");
    assert_eq!(
        liveness.http_get.as_ref().map(|h| &h.port),
        Some(&IntOrString::String("admin".into()))
    );
    assert_eq!(
        liveness.http_get.as_ref().and_then(|h| h.path.as_deref()),
        Some("/live")
    );
}

/// A probe cannot check UDP or SCTP, and an Ingress carries HTTP: the defaults take the first
/// TCP port, and there is neither without one. The Service still exposes every port.
#[test]
fn the_default_probe_and_ingress_use_the_first_tcp_port_or_none() {
    let dns_first = render(&app_with_spec(
        "dns",
        "image: coredns/coredns:1.11.1\nports:\n  - {name: dns, containerPort: 53, protocol: UDP}\n  - {name: dns-tcp, containerPort: 53, protocol: TCP}\n  - {name: metrics, containerPort: 9153}\n",
    ));
    let readiness = main_container(&dns_first).readiness_probe.as_ref().unwrap();
    assert_eq!(
        readiness.tcp_socket.as_ref().map(|t| &t.port),
        Some(&IntOrString::String("dns-tcp".into()))
    );
    let ingress = dns_first
        .ingress
        .as_ref()
        .expect("an Ingress on the TCP port");
    let backend = &ingress.spec.as_ref().unwrap().rules.as_ref().unwrap()[0]
        .http
        .as_ref()
        .unwrap()
        .paths[0]
        .backend;
    assert_eq!(
        backend
            .service
            .as_ref()
            .unwrap()
            .port
            .as_ref()
            .unwrap()
            .name
            .as_deref(),
        Some("dns-tcp")
    );
    let service_ports = dns_first
        .service
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .ports
        .as_ref()
        .unwrap();
    assert_eq!(
        service_ports.len(),
        3,
        "the Service exposes every port, UDP too"
    );

    let udp_only = render(&app_with_spec(
        "dns",
        "image: coredns/coredns:1.11.1\nports: [{name: dns, containerPort: 53, protocol: UDP}]\n",
    ));
    assert!(
        main_container(&udp_only).readiness_probe.is_none(),
        "no TCP port to probe"
    );
    assert!(udp_only.ingress.is_none(), "no TCP port to route to");
    assert!(udp_only.service.is_some());
}

#[test]
fn without_ports_there_is_no_default_readiness_probe() {
    let children = render(&worker(""));
    assert!(
        main_container(&children).readiness_probe.is_none(),
        "nothing to connect to"
    );
}

#[test]
fn requests_are_100m_and_128mi_and_the_memory_limit_follows_the_request() {
    let children = render(&web());
    for container in containers(&children) {
        let resources = container.resources.as_ref().unwrap();
        let requests = resources.requests.as_ref().unwrap();
        let limits = resources.limits.as_ref().unwrap();
        assert_eq!(
            requests.get("cpu"),
            Some(&Quantity("100m".into())),
            "{}",
            container.name
        );
        assert_eq!(
            requests.get("memory"),
            Some(&Quantity("128Mi".into())),
            "{}",
            container.name
        );
        assert_eq!(
            limits.get("memory"),
            requests.get("memory"),
            "{}",
            container.name
        );
        assert!(
            !limits.contains_key("cpu"),
            "no CPU limit by default ({})",
            container.name
        );
    }

    // An App's own memory request moves the limit with it.
    let own = render(&worker("resources:\n  memory: 1Gi\n"));
    let resources = main_container(&own).resources.as_ref().unwrap();
    assert_eq!(
        resources.requests.as_ref().unwrap().get("memory"),
        Some(&Quantity("1Gi".into()))
    );
    assert_eq!(
        resources.limits.as_ref().unwrap().get("memory"),
        Some(&Quantity("1Gi".into()))
    );
    assert_eq!(
        resources.requests.as_ref().unwrap().get("cpu"),
        Some(&Quantity("100m".into()))
    );
}

#[test]
fn autoscaling_runs_2_to_10_pods_at_70_percent_cpu_and_leaves_replicas_to_the_hpa() {
    let children = render(&web());
    let hpa = children
        .horizontal_pod_autoscaler
        .as_ref()
        .expect("an HPA by default")
        .spec
        .as_ref()
        .unwrap();
    assert_eq!(hpa.min_replicas, Some(2));
    assert_eq!(hpa.max_replicas, 10);
    let metrics = hpa.metrics.as_ref().unwrap();
    assert_eq!(metrics.len(), 1);
    let resource = metrics[0].resource.as_ref().unwrap();
    assert_eq!(resource.name, "cpu");
    assert_eq!(resource.target.type_, "Utilization");
    assert_eq!(resource.target.average_utilization, Some(70));
    assert_eq!(
        hpa.behavior, None,
        "Kubernetes' own scale-up and scale-down"
    );
    assert_eq!(
        children.deployment.spec.as_ref().unwrap().replicas,
        None,
        "spec.replicas belongs to the HPA"
    );
}

#[test]
fn a_pdb_allows_one_pod_down_only_from_two_replicas_up() {
    let default = render(&web());
    let pdb = default
        .pod_disruption_budget
        .as_ref()
        .expect("min 2 replicas: a PDB")
        .spec
        .as_ref()
        .unwrap();
    assert_eq!(pdb.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(pdb.min_available, None);

    assert!(
        render(&worker("replicas: 1\n"))
            .pod_disruption_budget
            .is_none(),
        "one replica: a PDB would block every drain"
    );
    assert!(
        render(&worker("replicas: 2\n"))
            .pod_disruption_budget
            .is_some()
    );
    assert!(
        render(&worker("autoscaling:\n  minReplicas: 1\n"))
            .pod_disruption_budget
            .is_none()
    );
}

#[test]
fn pods_run_with_the_restricted_security_context_and_a_writable_tmp() {
    let children = render(&web());
    let pod = pod_spec(&children);
    let pod_security = pod.security_context.as_ref().unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(
        pod_security
            .seccomp_profile
            .as_ref()
            .map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );
    assert_eq!(pod.automount_service_account_token, Some(false));

    let tmp = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "tmp")
        .expect("a tmp volume");
    assert!(tmp.empty_dir.is_some(), "/tmp is an emptyDir");
    for container in &pod.containers {
        let security = container.security_context.as_ref().unwrap();
        assert_eq!(
            security.allow_privilege_escalation,
            Some(false),
            "{}",
            container.name
        );
        assert_eq!(
            security.read_only_root_filesystem,
            Some(true),
            "{}",
            container.name
        );
        assert_eq!(security.run_as_non_root, Some(true), "{}", container.name);
        assert_eq!(
            security.capabilities.as_ref().and_then(|c| c.drop.clone()),
            Some(vec!["ALL".to_string()])
        );
        assert_eq!(
            security.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
            Some("RuntimeDefault")
        );
        assert!(security.privileged.is_none_or(|p| !p));
        let mounts = container.volume_mounts.as_ref().unwrap();
        let tmp_mount = mounts
            .iter()
            .find(|m| m.mount_path == "/tmp")
            .unwrap_or_else(|| panic!("{} has no /tmp", container.name));
        assert_eq!(tmp_mount.name, "tmp");
        assert_ne!(tmp_mount.read_only, Some(true), "/tmp must stay writable");
    }
}

#[test]
fn pods_go_wherever_the_scheduler_likes_at_the_default_priority() {
    let children = render(&web());
    let pod = pod_spec(&children);
    assert_eq!(pod.node_selector, None);
    assert_eq!(pod.tolerations, None);
    assert_eq!(pod.affinity, None);
    assert_eq!(pod.priority_class_name, None);
}

#[test]
fn pods_spread_over_zones_and_nodes_per_replica_set() {
    let children = render(&web());
    let constraints = pod_spec(&children)
        .topology_spread_constraints
        .as_ref()
        .expect("spread constraints");
    let keys: Vec<&str> = constraints
        .iter()
        .map(|c| c.topology_key.as_str())
        .collect();
    assert_eq!(
        keys,
        ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    );
    for constraint in constraints {
        assert_eq!(constraint.max_skew, 1);
        assert_eq!(constraint.when_unsatisfiable, "ScheduleAnyway");
        assert_eq!(
            constraint.match_label_keys.as_deref(),
            Some(&["pod-template-hash".to_string()][..])
        );
        assert_eq!(
            constraint
                .label_selector
                .as_ref()
                .unwrap()
                .match_labels
                .as_ref(),
            Some(deployment_selector(&children))
        );
    }
}

#[test]
fn children_carry_the_recommended_labels_and_a_selector_that_never_changes() {
    let children = render(&web());
    let expected = BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "web".to_string()),
        ("app.kubernetes.io/instance".to_string(), "web".to_string()),
    ]);
    assert_eq!(deployment_selector(&children), &expected);
    for object in children.to_values() {
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels[labels::NAME], "web", "{}", object["kind"]);
        assert_eq!(labels[labels::INSTANCE], "web", "{}", object["kind"]);
        assert_eq!(
            labels[labels::MANAGED_BY],
            "baseplate",
            "{}",
            object["kind"]
        );
        assert_eq!(labels[labels::APP], "web", "{}", object["kind"]);
    }
    for (key, value) in &expected {
        assert_eq!(
            pod_labels(&children).get(key),
            Some(value),
            "pods carry the selector labels"
        );
    }

    // A Deployment's selector is immutable: nothing an App can change may move it.
    let changed = render(&app_with_spec(
        "web",
        "image: registry.example.com/web:2.0
ports:
  - name: grpc
    containerPort: 50051
replicas: 4
env:
  MODE: changed
podLabels:
  team: payments
  version: v2
",
    ));
    assert_eq!(
        deployment_selector(&changed),
        deployment_selector(&children)
    );
    assert_eq!(
        pod_labels(&changed).get("team").map(String::as_str),
        Some("payments")
    );
}

#[test]
fn pod_annotations_hash_config_and_secret_values_so_pods_roll_when_they_change() {
    let spec = |env_value: &str, file: &str| {
        app_with_spec(
            "web",
            &format!(
                "image: web:1
env:
  MODE: {env_value}
config:
  files:
    app.conf: {file}
secrets:
  generate: [TOKEN]
  supplied: [API_KEY]
"
            ),
        )
    };
    let hashes = |app: &baseplate_crd::App, secrets: &baseplate_crd::SecretState| {
        let children = baseplate_crd::render(app, &common::select(&[]), secrets).unwrap();
        let annotations = pod_annotations(&children);
        (
            annotations[labels::CONFIG_HASH].clone(),
            annotations[labels::SECRET_HASH].clone(),
        )
    };
    let base = spec("one", "first");
    let secrets = common::fixed_secrets(&base);
    let (config, secret) = hashes(&base, &secrets);
    assert_eq!(config.len(), 16);
    assert_eq!(secret.len(), 16);

    assert_eq!(
        hashes(&base, &secrets),
        (config.clone(), secret.clone()),
        "same input, same hashes"
    );
    let (env_changed, secret_same) = hashes(&spec("two", "first"), &secrets);
    assert_ne!(env_changed, config, "an env value change rolls the pods");
    assert_eq!(secret_same, secret);
    let (file_changed, _) = hashes(&spec("one", "second"), &secrets);
    assert_ne!(file_changed, config, "a config file change rolls the pods");
    let mut image_changed = base.clone();
    image_changed.spec.image = "web:2".into();
    assert_eq!(
        hashes(&image_changed, &secrets),
        (config.clone(), secret.clone()),
        "hashes cover config and secrets only"
    );

    let with = |key: &str, value: &str| {
        let mut values: BTreeMap<String, k8s_openapi::ByteString> = ["TOKEN", "API_KEY"]
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    k8s_openapi::ByteString(format!("value-of-{k}").into_bytes()),
                )
            })
            .collect();
        values.insert(
            key.to_string(),
            k8s_openapi::ByteString(value.as_bytes().to_vec()),
        );
        baseplate_crd::SecretState::new(values)
    };
    assert_eq!(
        hashes(&base, &with("TOKEN", "value-of-TOKEN")).1,
        secret,
        "the fixed state, rebuilt"
    );
    let (config_same, supplied_changed) = hashes(&base, &with("API_KEY", "rotated"));
    assert_ne!(
        supplied_changed, secret,
        "rotating a supplied secret rolls the pods"
    );
    assert_eq!(config_same, config);
    assert_ne!(hashes(&base, &with("TOKEN", "regenerated")).1, secret);
    assert_eq!(
        hashes(&base, &with("UNDECLARED", "anything")).1,
        secret,
        "keys the App does not read do not roll it"
    );
}

#[test]
fn apps_with_a_port_get_an_ingress_on_the_host_template_without_tls() {
    let children = render(&web());
    let ingress = children
        .ingress
        .as_ref()
        .expect("an Ingress by default")
        .spec
        .as_ref()
        .unwrap();
    let rule = &ingress.rules.as_ref().unwrap()[0];
    assert_eq!(rule.host.as_deref(), Some("web.default.apps.example.com"));
    let paths = &rule.http.as_ref().unwrap().paths;
    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0].path.as_deref(), Some("/"));
    assert_eq!(paths[0].path_type, "Prefix");
    assert_eq!(
        paths[0]
            .backend
            .service
            .as_ref()
            .unwrap()
            .port
            .as_ref()
            .unwrap()
            .name
            .as_deref(),
        Some("http")
    );
    assert!(ingress.tls.is_none());
    assert!(
        ingress.ingress_class_name.is_none(),
        "the cluster's default IngressClass"
    );

    let worker = render(&worker(""));
    assert!(
        worker.service.is_none() && worker.ingress.is_none(),
        "no port, nothing to route to"
    );
}
