//! The cross-field rules and the layering: what Baseplate computes so users do not have to.

mod common;

use std::collections::BTreeMap;

use baseplate_crd::resolve::{self, Settings, Source};
use baseplate_crd::{App, Children, EffectivePlatform, Platform};
use common::{
    app_with_spec, assert_names_valid, assert_ports_exist, assert_selectors_agree, containers,
    deployment_selector, is_dns_label, main_container, platform_with_spec, pod_labels, pod_spec,
    probe_port, render, render_with, select,
};
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const WEB: &str = "image: registry.example.com/web:1.0
ports:
  - name: http
    containerPort: 8080
  - name: grpc
    containerPort: 9090
";

fn web() -> App {
    app_with_spec("web", WEB)
}

fn settings(app: &App, platforms: &[Platform]) -> Settings {
    resolve::resolve(app, &select(platforms)).unwrap_or_else(|e| panic!("{e}"))
}

fn source(settings: &Settings, key: &str) -> Source {
    settings
        .provenance
        .get(key)
        .unwrap_or_else(|| panic!("no provenance for {key}"))
        .source
        .clone()
}

fn pre_stop_seconds(container: &Container) -> i64 {
    container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .and_then(|p| p.sleep.as_ref())
        .expect("a preStop sleep")
        .seconds
}

fn grace(children: &Children) -> i64 {
    pod_spec(children).termination_grace_period_seconds.unwrap()
}

fn replicas(children: &Children) -> Option<i32> {
    children
        .deployment
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .replicas
}

#[test]
fn grace_period_is_raised_to_pre_stop_plus_20_when_a_platform_sets_it_lower() {
    let platform = platform_with_spec(
        "slow-lb",
        "defaults:\n  preStopSleepSeconds: 40\n  terminationGracePeriodSeconds: 30\n",
    );
    let children = render_with(&web(), std::slice::from_ref(&platform));
    assert_eq!(pre_stop_seconds(main_container(&children)), 40);
    assert_eq!(grace(&children), 60);
    let resolved = settings(&web(), &[platform]);
    assert!(
        matches!(source(&resolved, "terminationGracePeriodSeconds"), Source::Rule(r) if r.contains("preStopSleepSeconds + 20"))
    );

    // A grace period above the floor is kept as the Platform set it.
    let generous = platform_with_spec(
        "generous",
        "defaults:\n  preStopSleepSeconds: 40\n  terminationGracePeriodSeconds: 120\n",
    );
    assert_eq!(
        grace(&render_with(&web(), std::slice::from_ref(&generous))),
        120
    );
    assert_eq!(
        source(
            &settings(&web(), &[generous]),
            "terminationGracePeriodSeconds"
        ),
        Source::Platform("generous".into())
    );
}

#[test]
fn higher_priority_platforms_win_and_lower_ones_fill_the_gaps() {
    let low = platform_with_spec(
        "low",
        "priority: 10\ndefaults:\n  minReadySeconds: 10\n  revisionHistoryLimit: 3\n",
    );
    let high = platform_with_spec("high", "priority: 50\ndefaults:\n  minReadySeconds: 20\n");
    for order in [[low.clone(), high.clone()], [high.clone(), low.clone()]] {
        let resolved = settings(&web(), &order);
        assert_eq!(resolved.platforms, ["low", "high"], "lowest priority first");
        assert_eq!(resolved.min_ready_seconds, 20);
        assert_eq!(
            source(&resolved, "minReadySeconds"),
            Source::Platform("high".into())
        );
        assert_eq!(resolved.revision_history_limit, 3);
        assert_eq!(
            source(&resolved, "revisionHistoryLimit"),
            Source::Platform("low".into())
        );
        assert_eq!(
            source(&resolved, "progressDeadlineSeconds"),
            Source::BuiltIn
        );
        let deployment = render_with(&web(), &order)
            .deployment
            .unwrap()
            .spec
            .unwrap();
        assert_eq!(
            (
                deployment.min_ready_seconds,
                deployment.revision_history_limit
            ),
            (Some(20), Some(3))
        );
    }
}

#[test]
fn platforms_of_equal_priority_are_ordered_by_name() {
    let alpha = platform_with_spec(
        "alpha",
        "priority: 5\ndefaults:\n  progressDeadlineSeconds: 100\n",
    );
    let beta = platform_with_spec(
        "beta",
        "priority: 5\ndefaults:\n  progressDeadlineSeconds: 200\n",
    );
    for order in [[alpha.clone(), beta.clone()], [beta.clone(), alpha.clone()]] {
        let resolved = settings(&web(), &order);
        assert_eq!(resolved.platforms, ["alpha", "beta"]);
        assert_eq!(
            resolved.progress_deadline_seconds, 200,
            "the later name is the higher layer"
        );
        assert_eq!(
            source(&resolved, "progressDeadlineSeconds"),
            Source::Platform("beta".into())
        );
    }
}

#[test]
fn a_platform_applies_only_to_namespaces_its_selector_matches() {
    let production = platform_with_spec(
        "production",
        "namespaceSelector:\n  matchLabels:\n    env: prod\ndefaults:\n  minReadySeconds: 30\n",
    );
    let not_system = platform_with_spec(
        "not-system",
        "namespaceSelector:\n  matchExpressions:\n    - {key: tier, operator: NotIn, values: [system]}\n    - {key: team, operator: Exists}\n",
    );
    let everywhere = platform_with_spec("everywhere", "{}");
    let all = [production, not_system, everywhere];
    let names = |labels: &[(&str, &str)]| {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EffectivePlatform::select(&all, &labels).names()
    };
    assert_eq!(
        names(&[("env", "prod"), ("team", "shop")]),
        ["everywhere", "not-system", "production"]
    );
    assert_eq!(
        names(&[("env", "dev"), ("team", "shop")]),
        ["everywhere", "not-system"]
    );
    assert_eq!(
        names(&[("env", "prod"), ("team", "infra"), ("tier", "system")]),
        ["everywhere", "production"]
    );
    assert_eq!(names(&[]), ["everywhere"]);

    let matched = EffectivePlatform::select(
        &all,
        &BTreeMap::from([("env".to_string(), "prod".to_string())]),
    );
    let children = baseplate_crd::render(&web(), &matched, &Default::default()).unwrap();
    assert_eq!(
        children.deployment.unwrap().spec.unwrap().min_ready_seconds,
        Some(30)
    );
    let unmatched = EffectivePlatform::select(
        &all,
        &BTreeMap::from([("env".to_string(), "dev".to_string())]),
    );
    let children = baseplate_crd::render(&web(), &unmatched, &Default::default()).unwrap();
    assert_eq!(
        children.deployment.unwrap().spec.unwrap().min_ready_seconds,
        Some(5)
    );
}

#[test]
fn a_platform_with_a_selector_that_cannot_be_parsed_matches_no_namespace() {
    // Admission refuses this selector (tests/invalid.rs); one stored before that rule still
    // reaches the operator, so it is read here without admission.
    let broken: Platform = serde_saphyr::from_str(
        "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: broken}\nspec:\n  namespaceSelector:\n    matchExpressions:\n      - {key: env, operator: Bogus, values: [prod]}\n  defaults:\n    minReadySeconds: 99\n",
    )
    .unwrap();
    let labels = BTreeMap::from([("env".to_string(), "prod".to_string())]);
    assert!(
        EffectivePlatform::select(&[broken], &labels)
            .layers
            .is_empty()
    );
}

#[test]
fn app_fields_beat_every_platform() {
    let platform = platform_with_spec(
        "defaults",
        "priority: 1000
defaults:
  resources: {cpu: '1', memory: 1Gi, cpuLimit: '2'}
  readinessProbe: {path: /healthz, periodSeconds: 7}
  autoscaling: {minReplicas: 4, maxReplicas: 8}
  configMountPath: /config
",
    );
    let app = app_with_spec(
        "web",
        &format!(
            "{WEB}resources: {{cpu: 250m}}
readinessProbe: {{path: /ready, port: grpc}}
autoscaling: {{maxReplicas: 12}}
config:
  mountPath: /etc/web
  files: {{app.conf: 'x = 1'}}
"
        ),
    );
    let children = render_with(&app, std::slice::from_ref(&platform));
    let main = main_container(&children);
    let resources = main.resources.as_ref().unwrap();
    assert_eq!(
        resources.requests.as_ref().unwrap()["cpu"],
        Quantity("250m".into()),
        "the App's own request"
    );
    assert_eq!(
        resources.requests.as_ref().unwrap()["memory"],
        Quantity("1Gi".into()),
        "what the App left out"
    );
    assert_eq!(
        resources.limits.as_ref().unwrap()["cpu"],
        Quantity("2".into())
    );
    let readiness = main
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(
        (readiness.path.as_deref(), &readiness.port),
        (Some("/ready"), &IntOrString::String("grpc".into()))
    );
    assert_eq!(
        main.readiness_probe.as_ref().unwrap().period_seconds,
        Some(7),
        "probes merge leaf by leaf"
    );
    let hpa = children
        .horizontal_pod_autoscaler
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap();
    assert_eq!((hpa.min_replicas, hpa.max_replicas), (Some(4), 12));
    assert!(
        main.volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .any(|m| m.mount_path == "/etc/web")
    );

    let resolved = settings(&app, &[platform]);
    assert_eq!(source(&resolved, "resources.cpu"), Source::App);
    assert_eq!(
        source(&resolved, "resources.memory"),
        Source::Platform("defaults".into())
    );
    assert_eq!(source(&resolved, "autoscaling.maxReplicas"), Source::App);
    assert_eq!(
        source(&resolved, "autoscaling.minReplicas"),
        Source::Platform("defaults".into())
    );
    assert_eq!(source(&resolved, "configMountPath"), Source::App);
}

#[test]
fn an_app_that_configures_autoscaling_gets_it_even_where_a_platform_turns_it_off() {
    let fixed = platform_with_spec(
        "fixed",
        "defaults:\n  replicas: 3\n  autoscaling: {enabled: false}\n",
    );
    let plain = render_with(&web(), std::slice::from_ref(&fixed));
    assert!(plain.horizontal_pod_autoscaler.is_none());
    assert_eq!(replicas(&plain), Some(3), "the Platform's fixed size");

    let app = app_with_spec("web", &format!("{WEB}autoscaling:\n  maxReplicas: 6\n"));
    let children = render_with(&app, std::slice::from_ref(&fixed));
    let hpa = children
        .horizontal_pod_autoscaler
        .as_ref()
        .expect("the App asked for autoscaling")
        .spec
        .as_ref()
        .unwrap();
    assert_eq!(hpa.max_replicas, 6);
    assert_eq!(replicas(&children), None);
    assert_eq!(
        source(&settings(&app, &[fixed]), "autoscaling.enabled"),
        Source::App
    );
}

#[test]
fn fixed_replicas_turn_the_autoscaler_off_and_set_the_deployment_size() {
    let app = app_with_spec("web", &format!("{WEB}replicas: 4\n"));
    let children = render(&app);
    assert!(children.horizontal_pod_autoscaler.is_none());
    assert_eq!(replicas(&children), Some(4));
    assert_eq!(
        source(&settings(&app, &[]), "autoscaling.enabled"),
        Source::App
    );

    // Switched off without a size: the Platform's (here the built-in) fixed size.
    let off = render(&app_with_spec(
        "web",
        &format!("{WEB}autoscaling:\n  enabled: false\n"),
    ));
    assert!(off.horizontal_pod_autoscaler.is_none());
    assert_eq!(replicas(&off), Some(2));

    // A Platform that autoscales does not override the App's fixed size.
    let scaling = platform_with_spec(
        "scaling",
        "defaults:\n  autoscaling: {enabled: true, minReplicas: 5, maxReplicas: 9}\n",
    );
    let children = render_with(&app, &[scaling]);
    assert!(children.horizontal_pod_autoscaler.is_none());
    assert_eq!(replicas(&children), Some(4));
}

#[test]
fn no_pdb_below_two_minimum_replicas() {
    for spec in [
        "replicas: 0",
        "replicas: 1",
        "autoscaling: {minReplicas: 1, maxReplicas: 5}",
    ] {
        let children = render(&app_with_spec("web", &format!("{WEB}{spec}\n")));
        assert!(children.pod_disruption_budget.is_none(), "{spec}");
    }
    for spec in [
        "replicas: 2",
        "autoscaling: {minReplicas: 2}",
        "autoscaling: {minReplicas: 3, maxReplicas: 5}",
    ] {
        let children = render(&app_with_spec("web", &format!("{WEB}{spec}\n")));
        assert!(children.pod_disruption_budget.is_some(), "{spec}");
    }
    let off = platform_with_spec(
        "no-pdb",
        "defaults:\n  podDisruptionBudget: {enabled: false}\n",
    );
    assert!(render_with(&web(), &[off]).pod_disruption_budget.is_none());
    let percent = platform_with_spec(
        "pdb-25",
        "defaults:\n  podDisruptionBudget: {maxUnavailable: 25%}\n",
    );
    let pdb = render_with(&web(), &[percent])
        .pod_disruption_budget
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(pdb.max_unavailable, Some(IntOrString::String("25%".into())));
}

#[test]
fn the_hpa_scales_the_deployment() {
    let children = render(&web());
    let hpa = children.horizontal_pod_autoscaler.as_ref().unwrap();
    let target = &hpa.spec.as_ref().unwrap().scale_target_ref;
    assert_eq!(target.kind, "Deployment");
    assert_eq!(target.api_version.as_deref(), Some("apps/v1"));
    assert_eq!(
        Some(&target.name),
        children.deployment.as_ref().unwrap().metadata.name.as_ref()
    );
    assert_eq!(
        hpa.metadata.namespace,
        children.deployment.as_ref().unwrap().metadata.namespace
    );
}

#[test]
fn every_selector_is_the_deployment_selector_and_selects_the_pods() {
    let platform = platform_with_spec("labels", "defaults:\n  labels: {cost-center: cc-42}\n");
    let app = app_with_spec(
        "web",
        &format!("{WEB}podLabels: {{team: shop, tier: frontend}}\n"),
    );
    let children = render_with(&app, &[platform]);
    assert!(children.pod_disruption_budget.is_some() && children.service.is_some());
    assert_selectors_agree(&children);
    let selector = deployment_selector(&children);
    let pods = pod_labels(&children);
    assert_eq!(pods.get("team").map(String::as_str), Some("shop"));
    assert_eq!(pods.get("cost-center").map(String::as_str), Some("cc-42"));
    assert!(
        !selector.contains_key("team") && !selector.contains_key("cost-center"),
        "extra labels never enter the selector"
    );
}

#[test]
fn the_service_probes_and_ingress_use_existing_port_names() {
    let app = app_with_spec(
        "web",
        &format!(
            "{WEB}readinessProbe: {{port: grpc}}
livenessProbe: {{path: /live}}
startupProbe: {{port: http, path: /started}}
ingress: {{port: grpc}}
sidecars:
  - name: proxy
    image: envoy:1
    ports: [{{name: admin, containerPort: 15000}}]
    readinessProbe: {{path: /ready}}
    livenessProbe: {{port: admin}}
"
        ),
    );
    let children = render(&app);
    assert_ports_exist(&children);
    assert_eq!(
        probe_port(main_container(&children).readiness_probe.as_ref().unwrap()),
        "grpc"
    );
    assert_eq!(
        probe_port(main_container(&children).liveness_probe.as_ref().unwrap()),
        "http",
        "the first port"
    );
}

#[test]
fn a_platform_probe_port_the_app_does_not_have_falls_back_to_the_first_port() {
    let platform = platform_with_spec(
        "probes",
        "defaults:\n  readinessProbe: {port: http, path: /healthz}\n",
    );
    let has_it = render_with(&web(), std::slice::from_ref(&platform));
    assert_eq!(
        probe_port(main_container(&has_it).readiness_probe.as_ref().unwrap()),
        "http"
    );

    let grpc_only = app_with_spec(
        "api",
        "image: api:1\nports: [{name: grpc, containerPort: 9090}]\n",
    );
    let children = render_with(&grpc_only, &[platform]);
    let readiness = main_container(&children)
        .readiness_probe
        .as_ref()
        .expect("still a readiness probe");
    assert_eq!(probe_port(readiness), "grpc");
    assert_eq!(
        readiness.http_get.as_ref().and_then(|h| h.path.as_deref()),
        Some("/healthz")
    );
    assert_ports_exist(&children);

    // A Platform's probe port that is one of the App's UDP ports is not probed either.
    let udp_named_http = app_with_spec(
        "dns",
        "image: dns:1\nports: [{name: http, containerPort: 53, protocol: UDP}, {name: health, containerPort: 8080}]\n",
    );
    let children = render_with(
        &udp_named_http,
        &[platform_with_spec(
            "probes",
            "defaults:\n  readinessProbe: {port: http, path: /healthz}\n",
        )],
    );
    let readiness = main_container(&children).readiness_probe.as_ref().unwrap();
    assert_eq!(probe_port(readiness), "health", "the first TCP port");
}

#[test]
fn names_are_dns_labels_even_at_63_characters() {
    let name = format!("a{}", "b".repeat(62));
    assert_eq!(name.len(), 63);
    let tls = platform_with_spec(
        "tls",
        "defaults:\n  ingress:\n    tls: {enabled: true, clusterIssuer: letsencrypt}\n",
    );
    let app = app_with_spec(&name, WEB);
    let children = render_with(&app, &[tls]);
    assert_names_valid(&children);
    let ingress = children.ingress.as_ref().unwrap().spec.as_ref().unwrap();
    let host = ingress.rules.as_ref().unwrap()[0].host.clone().unwrap();
    assert!(
        host.split('.').all(is_dns_label) && host.len() <= 253,
        "host {host:?}"
    );
    // A Secret name is a DNS-1123 subdomain: up to 253 characters, longer than a label.
    let secret_name = ingress.tls.as_ref().unwrap()[0]
        .secret_name
        .clone()
        .unwrap();
    assert_eq!(secret_name, format!("{name}-tls"));
}

#[test]
fn provenance_names_the_layer_that_set_each_value() {
    let platform = platform_with_spec(
        "team",
        "defaults:\n  minReadySeconds: 15\n  resources: {memory: 256Mi}\n",
    );
    let app = app_with_spec("web", &format!("{WEB}resources: {{cpu: 300m}}\n"));
    let resolved = settings(&app, &[platform]);
    assert_eq!(
        source(&resolved, "progressDeadlineSeconds"),
        Source::BuiltIn
    );
    assert_eq!(
        source(&resolved, "minReadySeconds"),
        Source::Platform("team".into())
    );
    assert_eq!(resolved.provenance["minReadySeconds"].value, "15");
    assert_eq!(source(&resolved, "resources.cpu"), Source::App);
    assert_eq!(resolved.provenance["resources.cpu"].value, "\"300m\"");
    assert!(
        matches!(source(&resolved, "resources.memoryLimit"), Source::Rule(r) if r.contains("memory request"))
    );
    assert_eq!(
        resolved.provenance["resources.memoryLimit"].value,
        "\"256Mi\""
    );
    assert_eq!(resolved.platforms, ["team"]);
}

#[test]
fn a_minimum_pre_stop_limit_raises_the_pre_stop_sleep_and_the_grace_period_with_it() {
    let short = platform_with_spec(
        "short",
        "priority: 100\ndefaults:\n  preStopSleepSeconds: 2\n",
    );
    let floor = platform_with_spec("floor", "limits:\n  minPreStopSleepSeconds: 20\n");
    let lower_floor = platform_with_spec("lower-floor", "limits:\n  minPreStopSleepSeconds: 12\n");
    let all = [short.clone(), floor, lower_floor];
    let app = app_with_spec(
        "web",
        &format!("{WEB}sidecars: [{{name: proxy, image: envoy:1}}]\n"),
    );
    let children = render_with(&app, &all);
    for container in containers(&children) {
        assert_eq!(
            pre_stop_seconds(container),
            20,
            "{}: the highest floor of all Platforms",
            container.name
        );
    }
    assert_eq!(grace(&children), 40);
    let resolved = settings(&app, &all);
    assert!(
        matches!(source(&resolved, "preStopSleepSeconds"), Source::Rule(r) if r.contains("platform/floor"))
    );

    // Already above the floor: untouched.
    let long = platform_with_spec("long", "defaults:\n  preStopSleepSeconds: 30\n");
    let floor = platform_with_spec("floor", "limits:\n  minPreStopSleepSeconds: 20\n");
    let children = render_with(&app, &[long, floor]);
    assert_eq!(pre_stop_seconds(main_container(&children)), 30);

    // No floor: the short sleep stands, and the built-in grace period already covers it.
    let children = render_with(&app, &[short]);
    assert_eq!(pre_stop_seconds(main_container(&children)), 2);
    assert_eq!(grace(&children), 30);
}

/// Every rule that left a child out or a value to someone else says so in the provenance,
/// with the value the children carry.
#[test]
fn rules_that_suppress_something_are_explained() {
    let fixed_one = settings(&app_with_spec("web", &format!("{WEB}replicas: 1\n")), &[]);
    assert_eq!(fixed_one.pdb_max_unavailable, None);
    assert_eq!(
        fixed_one.provenance["podDisruptionBudget.enabled"].value,
        "false"
    );
    assert!(
        matches!(source(&fixed_one, "podDisruptionBudget.enabled"), Source::Rule(r) if r.contains("as few as 1 replica")),
        "{:?}",
        source(&fixed_one, "podDisruptionBudget.enabled")
    );
    assert_eq!(fixed_one.provenance["replicas"].value, "1");

    let autoscaled = settings(&web(), &[]);
    assert_eq!(autoscaled.provenance["replicas"].value, "null");
    assert!(
        matches!(source(&autoscaled, "replicas"), Source::Rule(r) if r.contains("HorizontalPodAutoscaler, between 2 and 10"))
    );
    assert_eq!(
        replicas(&render(&web())),
        None,
        "the Deployment carries no count"
    );

    let worker = settings(
        &app_with_spec("worker", "image: registry.example.com/w:1\n"),
        &[],
    );
    assert_eq!(worker.ingress, None);
    assert_eq!(worker.provenance["ingress.enabled"].value, "false");
    assert!(
        matches!(source(&worker, "ingress.enabled"), Source::Rule(r) if r.contains("no TCP port"))
    );
}

/// What only the App sets is explained too: probes and ports where the children get them,
/// and the names of env, config and secret keys, never their values.
#[test]
fn what_only_the_app_sets_is_explained_with_keys_but_no_values() {
    let app = app_with_spec(
        "web",
        &format!(
            "{WEB}env: {{LOG_LEVEL: debug}}\nconfig: {{env: {{FLAG: on-value}}, files: {{app.toml: 'x = 1'}}}}\nsecrets: {{generate: [SESSION_KEY], supplied: [API_TOKEN]}}\nlivenessProbe: {{path: /live}}\ningress: {{paths: [/api]}}\n"
        ),
    );
    let explained = settings(&app, &[]);
    let value = |key: &str| explained.provenance[key].value.clone();
    assert_eq!(value("image"), "\"registry.example.com/web:1.0\"");
    assert_eq!(value("livenessProbe"), r#"{"path":"/live","port":"http"}"#);
    assert_eq!(source(&explained, "startupProbe"), Source::BuiltIn);
    assert_eq!(value("startupProbe"), "null");
    assert_eq!(value("readinessProbe.port"), "\"http\"");
    assert_eq!(value("ingress.paths"), r#"["/api"]"#);
    assert_eq!(value("ingress.port"), "\"http\"");
    assert_eq!(value("env"), r#"["LOG_LEVEL"]"#);
    assert_eq!(value("config.env"), r#"["FLAG"]"#);
    assert_eq!(value("config.files"), r#"["app.toml"]"#);
    assert_eq!(value("secrets.generate"), r#"["SESSION_KEY"]"#);
    assert_eq!(value("secrets.supplied"), r#"["API_TOKEN"]"#);
    let everything = format!("{:?}", explained.provenance);
    for secret_or_value in ["debug", "on-value", "x = 1"] {
        assert!(
            !everything.contains(secret_or_value),
            "{secret_or_value} in {everything}"
        );
    }
    // The probe the children get is the one explained.
    let children = render(&app);
    let liveness = main_container(&children).liveness_probe.clone().unwrap();
    assert_eq!(
        liveness.http_get.unwrap().port,
        IntOrString::String("http".into())
    );
}

fn hpa_spec(
    children: &Children,
) -> &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec {
    children
        .horizontal_pod_autoscaler
        .as_ref()
        .expect("an HPA")
        .spec
        .as_ref()
        .unwrap()
}

/// The names of the HPA's metrics, as `kubectl describe hpa` lists them.
fn metric_names(children: &Children) -> Vec<String> {
    hpa_spec(children)
        .metrics
        .iter()
        .flatten()
        .map(|m| match (&m.resource, &m.external, &m.pods) {
            (Some(r), _, _) => format!("Resource/{}", r.name),
            (_, Some(e), _) => format!("External/{}", e.metric.name),
            (_, _, Some(p)) => format!("Pods/{}", p.metric.name),
            _ => m.type_.clone(),
        })
        .collect()
}

/// An External metric exactly as HPA tutorials write it.
const DATADOG: &str = "autoscaling:
  maxReplicas: 20
  metrics:
    - type: External
      external:
        metric:
          name: example.http.requests
          selector: {matchLabels: {service: web}}
        target: {type: AverageValue, averageValue: \"100\"}
";

#[test]
fn an_app_with_only_an_external_metric_scales_on_it_alone() {
    let app = app_with_spec("web", &format!("{WEB}{DATADOG}"));
    let children = render(&app);
    assert_eq!(metric_names(&children), ["External/example.http.requests"]);
    let external = hpa_spec(&children).metrics.as_ref().unwrap()[0]
        .external
        .as_ref()
        .unwrap();
    assert_eq!(
        external
            .metric
            .selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["service"],
        "web"
    );
    assert_eq!(external.target.average_value, Some(Quantity("100".into())));
    assert!(
        matches!(
            source(&settings(&app, &[]), "autoscaling.targetCPUUtilizationPercentage"),
            Source::Rule(rule) if rule.contains("no CPU metric")
        ),
        "explain says why there is no CPU metric"
    );
}

#[test]
fn a_cpu_target_the_app_states_beside_its_metrics_stays() {
    let app = app_with_spec(
        "web",
        &format!("{WEB}{DATADOG}  targetCPUUtilizationPercentage: 80\n"),
    );
    let children = render(&app);
    assert_eq!(
        metric_names(&children),
        ["Resource/cpu", "External/example.http.requests"]
    );
    assert_eq!(
        hpa_spec(&children).metrics.as_ref().unwrap()[0]
            .resource
            .as_ref()
            .unwrap()
            .target
            .average_utilization,
        Some(80)
    );
}

#[test]
fn an_app_metric_replaces_a_platform_cpu_target_and_a_platform_metric_the_built_in_one() {
    let cpu = platform_with_spec(
        "cpu",
        "defaults:\n  autoscaling: {targetCPUUtilizationPercentage: 60}\n",
    );
    let app = app_with_spec("web", &format!("{WEB}{DATADOG}"));
    assert_eq!(
        metric_names(&render_with(&app, std::slice::from_ref(&cpu))),
        ["External/example.http.requests"]
    );
    assert_eq!(
        metric_names(&render_with(&web(), std::slice::from_ref(&cpu))),
        ["Resource/cpu"],
        "nothing else said: the CPU target stays"
    );

    let memory = platform_with_spec(
        "memory",
        "defaults:\n  autoscaling: {targetMemoryUtilizationPercentage: 75}\n",
    );
    let children = render_with(&web(), std::slice::from_ref(&memory));
    assert_eq!(metric_names(&children), ["Resource/memory"]);
    assert_eq!(
        hpa_spec(&children).metrics.as_ref().unwrap()[0]
            .resource
            .as_ref()
            .unwrap()
            .target
            .average_utilization,
        Some(75)
    );
    // The same layer saying both keeps both.
    let both = platform_with_spec(
        "both",
        "defaults:\n  autoscaling: {targetCPUUtilizationPercentage: 60, targetMemoryUtilizationPercentage: 75}\n",
    );
    assert_eq!(
        metric_names(&render_with(&web(), &[both])),
        ["Resource/cpu", "Resource/memory"]
    );
}

#[test]
fn behavior_comes_per_direction_from_the_highest_layer_that_sets_it() {
    let slow = platform_with_spec(
        "slow",
        "defaults:
  autoscaling:
    behavior:
      scaleDown:
        stabilizationWindowSeconds: 600
        policies: [{type: Percent, value: 10, periodSeconds: 60}]
",
    );
    let plain = render_with(&web(), std::slice::from_ref(&slow));
    let behavior = hpa_spec(&plain)
        .behavior
        .as_ref()
        .expect("the Platform's behaviour");
    let down = behavior.scale_down.as_ref().unwrap();
    assert_eq!(down.stabilization_window_seconds, Some(600));
    assert_eq!(down.policies.as_ref().unwrap()[0].value, 10);
    assert_eq!(behavior.scale_up, None, "Kubernetes' default scale-up");

    let app = app_with_spec(
        "web",
        &format!(
            "{WEB}autoscaling:
  behavior:
    scaleUp: {{stabilizationWindowSeconds: 0, selectPolicy: Max, policies: [{{type: Pods, value: 4, periodSeconds: 15}}]}}
"
        ),
    );
    let children = render_with(&app, std::slice::from_ref(&slow));
    let behavior = hpa_spec(&children).behavior.as_ref().unwrap();
    assert_eq!(
        behavior
            .scale_up
            .as_ref()
            .unwrap()
            .policies
            .as_ref()
            .unwrap()[0]
            .value,
        4
    );
    assert_eq!(
        behavior
            .scale_down
            .as_ref()
            .unwrap()
            .stabilization_window_seconds,
        Some(600),
        "the Platform's slow scale-down stays under the App's scale-up"
    );
    let resolved = settings(&app, &[slow]);
    assert_eq!(
        source(&resolved, "autoscaling.behavior.scaleUp"),
        Source::App
    );
    assert_eq!(
        source(&resolved, "autoscaling.behavior.scaleDown"),
        Source::Platform("slow".into())
    );
}

#[test]
fn placement_comes_whole_from_the_highest_layer_and_the_topology_spread_stays() {
    let spot = platform_with_spec(
        "spot",
        "defaults:
  nodeSelector: {karpenter.sh/capacity-type: spot}
  tolerations: [{key: spot, operator: Exists, effect: NoSchedule}]
  affinity:
    nodeAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 50
          preference: {matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [arm64]}]}
  priorityClassName: web-default
",
    );
    let plain = render_with(&web(), std::slice::from_ref(&spot));
    let pod = pod_spec(&plain);
    assert_eq!(
        pod.node_selector.as_ref().unwrap()["karpenter.sh/capacity-type"],
        "spot"
    );
    assert_eq!(
        pod.tolerations.as_ref().unwrap()[0].key.as_deref(),
        Some("spot")
    );
    assert!(pod.affinity.as_ref().unwrap().node_affinity.is_some());
    assert_eq!(pod.priority_class_name.as_deref(), Some("web-default"));
    assert_eq!(
        pod.topology_spread_constraints.as_ref().map(Vec::len),
        Some(2),
        "the built-in spread combines with the Platform's placement"
    );

    let app = app_with_spec(
        "web",
        &format!(
            "{WEB}nodeSelector: {{}}
tolerations: [{{key: dedicated, operator: Equal, value: payments, effect: NoExecute, tolerationSeconds: 30}}]
priorityClassName: payments-critical
"
        ),
    );
    let children = render_with(&app, std::slice::from_ref(&spot));
    let pod = pod_spec(&children);
    assert_eq!(
        pod.node_selector,
        Some(BTreeMap::new()),
        "an empty nodeSelector clears the Platform's"
    );
    let tolerations = pod.tolerations.as_ref().unwrap();
    assert_eq!(
        tolerations
            .iter()
            .map(|t| t.key.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["dedicated"],
        "the App's tolerations replace the Platform's, they are not added"
    );
    assert_eq!(tolerations[0].toleration_seconds, Some(30));
    assert!(
        pod.affinity.is_some(),
        "what the App leaves out stays the Platform's"
    );
    assert_eq!(
        pod.priority_class_name.as_deref(),
        Some("payments-critical")
    );
    let resolved = settings(&app, &[spot]);
    assert_eq!(source(&resolved, "tolerations"), Source::App);
    assert_eq!(source(&resolved, "nodeSelector"), Source::App);
    assert_eq!(
        source(&resolved, "affinity"),
        Source::Platform("spot".into())
    );
}

#[test]
fn an_app_sets_its_own_grace_period_and_can_turn_the_pre_stop_sleep_off() {
    let worker = app_with_spec(
        "worker",
        "image: registry.example.com/worker:1.0\npreStopSleepSeconds: 0\nterminationGracePeriodSeconds: 300\n",
    );
    let children = render(&worker);
    assert_eq!(grace(&children), 300);
    assert!(
        containers(&children).iter().all(|c| c.lifecycle.is_none()),
        "no preStop sleep at all"
    );
    let resolved = settings(&worker, &[]);
    assert_eq!(
        source(&resolved, "terminationGracePeriodSeconds"),
        Source::App
    );
    assert_eq!(source(&resolved, "preStopSleepSeconds"), Source::App);

    // A grace period from the App below a Platform's longer preStop sleep is still raised.
    let long = platform_with_spec("long", "defaults:\n  preStopSleepSeconds: 45\n");
    let app = app_with_spec("web", &format!("{WEB}terminationGracePeriodSeconds: 30\n"));
    let children = render_with(&app, std::slice::from_ref(&long));
    assert_eq!(grace(&children), 65);
    assert_eq!(pre_stop_seconds(main_container(&children)), 45);

    // The Platforms' minimum preStop sleep holds over an App that turns it off.
    let floor = platform_with_spec("floor", "limits:\n  minPreStopSleepSeconds: 5\n");
    let children = render_with(&worker, &[floor]);
    assert_eq!(pre_stop_seconds(main_container(&children)), 5);
    assert_eq!(grace(&children), 300);
}

/// Each probe handler reaches the container as the kubelet takes it: a command, a gRPC check on
/// the port's number (the kubelet takes no name there), an HTTPS GET with its headers.
#[test]
fn every_probe_handler_renders_as_the_kubelet_takes_it() {
    let app = app_with_spec(
        "web",
        &format!(
            "{WEB}readinessProbe: {{grpc: {{service: orders.v1.Orders}}, port: grpc}}
livenessProbe: {{exec: {{command: [/bin/healthcheck, --quick]}}, periodSeconds: 20}}
startupProbe: {{path: /started, scheme: HTTPS, httpHeaders: [{{name: Host, value: web.internal}}]}}
sidecars:
  - name: proxy
    image: cloud-sql-proxy:2
    readinessProbe: {{exec: {{command: [/check]}}}}
  - name: stats
    image: statsd:1
    ports: [{{name: stats-grpc, containerPort: 7000}}]
    livenessProbe: {{grpc: {{}}}}
"
        ),
    );
    // Admitted as written, the sidecar's exec probe without a port included.
    let refused = baseplate_crd::admission::check_app(&app);
    assert!(refused.is_empty(), "{refused:?}");
    let children = render(&app);
    let main = main_container(&children);
    let grpc = main
        .readiness_probe
        .as_ref()
        .unwrap()
        .grpc
        .as_ref()
        .unwrap();
    assert_eq!(grpc.port, 9090, "the grpc port's number");
    assert_eq!(grpc.service.as_deref(), Some("orders.v1.Orders"));
    let liveness = main.liveness_probe.as_ref().unwrap();
    assert_eq!(
        liveness.exec.as_ref().unwrap().command.as_deref(),
        Some(&["/bin/healthcheck".to_string(), "--quick".to_string()][..])
    );
    assert_eq!(liveness.period_seconds, Some(20));
    assert!(liveness.tcp_socket.is_none() && liveness.http_get.is_none());
    let get = main
        .startup_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(get.scheme.as_deref(), Some("HTTPS"));
    assert_eq!(
        get.port,
        IntOrString::String("http".into()),
        "the first port"
    );
    let headers = get.http_headers.as_ref().unwrap();
    assert_eq!(
        (headers[0].name.as_str(), headers[0].value.as_str()),
        ("Host", "web.internal")
    );
    // A sidecar without ports can have an exec probe; a gRPC one defaults to its first port.
    let sidecars = &containers(&children)[1..];
    let proxy = sidecars[0].readiness_probe.as_ref().unwrap();
    assert!(proxy.exec.is_some() && proxy.tcp_socket.is_none());
    let stats = sidecars[1].liveness_probe.as_ref().unwrap();
    assert_eq!(stats.grpc.as_ref().map(|g| g.port), Some(7000));
    let problems = common::api_rules::problems(&children);
    assert!(problems.is_empty(), "{problems:?}");
    // A plain HTTP probe says so.
    let http = render(&app_with_spec(
        "web",
        &format!("{WEB}readinessProbe: {{path: /ready}}\n"),
    ));
    let readiness = main_container(&http).readiness_probe.clone().unwrap();
    let get = readiness.http_get.unwrap();
    assert_eq!(get.scheme.as_deref(), Some("HTTP"));
    assert!(get.http_headers.is_none());
}

/// A probe has one handler, so the handler comes whole from the highest layer that sets one:
/// the App's exec probe replaces the Platform's HTTPS path, its scheme, headers and port, and
/// explain says so; an App that sets only a port keeps the Platform's handler.
#[test]
fn the_readiness_handler_comes_whole_from_the_highest_layer() {
    let platform = platform_with_spec(
        "probes",
        "defaults:\n  readinessProbe: {path: /healthz, scheme: HTTPS, httpHeaders: [{name: X-Probe, value: kubelet}], port: http, periodSeconds: 7}\n",
    );
    let exec = app_with_spec(
        "web",
        &format!("{WEB}readinessProbe: {{exec: {{command: [/bin/ready]}}}}\n"),
    );
    for refused in [
        baseplate_crd::admission::check_app(&exec),
        baseplate_crd::admission::check_platform(&platform),
    ] {
        assert!(refused.is_empty(), "{refused:?}");
    }
    let children = render_with(&exec, std::slice::from_ref(&platform));
    let readiness = main_container(&children).readiness_probe.clone().unwrap();
    assert!(readiness.exec.is_some());
    assert!(readiness.http_get.is_none() && readiness.tcp_socket.is_none());
    assert_eq!(
        readiness.period_seconds,
        Some(7),
        "timings stay leaf by leaf"
    );
    let problems = common::api_rules::problems(&children);
    assert!(problems.is_empty(), "{problems:?}");
    let explained = settings(&exec, std::slice::from_ref(&platform));
    assert_eq!(source(&explained, "readinessProbe.exec"), Source::App);
    for key in [
        "readinessProbe.path",
        "readinessProbe.scheme",
        "readinessProbe.httpHeaders",
        "readinessProbe.port",
    ] {
        assert_eq!(explained.provenance[key].value, "null", "{key}");
        assert!(
            matches!(source(&explained, key), Source::Rule(_)),
            "{key}: {:?}",
            source(&explained, key)
        );
    }
    let Source::Rule(rule) = source(&explained, "readinessProbe.path") else {
        unreachable!()
    };
    assert!(
        rule.contains("replaced by readinessProbe.exec (app)"),
        "{rule}"
    );

    let port_only = app_with_spec("web", &format!("{WEB}readinessProbe: {{port: grpc}}\n"));
    let children = render_with(&port_only, std::slice::from_ref(&platform));
    let get = main_container(&children)
        .readiness_probe
        .clone()
        .unwrap()
        .http_get
        .unwrap();
    assert_eq!(get.path.as_deref(), Some("/healthz"));
    assert_eq!(get.scheme.as_deref(), Some("HTTPS"));
    assert_eq!(get.port, IntOrString::String("grpc".into()));
    assert_eq!(get.http_headers.unwrap()[0].name, "X-Probe");

    // A gRPC handler of the App, on the Platform's port.
    let grpc = app_with_spec("web", &format!("{WEB}readinessProbe: {{grpc: {{}}}}\n"));
    let children = render_with(&grpc, &[platform]);
    let readiness = main_container(&children).readiness_probe.clone().unwrap();
    assert_eq!(
        readiness.grpc.map(|g| g.port),
        Some(8080),
        "the port named http"
    );
    assert!(readiness.http_get.is_none());
}

/// Every pod template of the App: the Deployment's, the migration Job's, each CronJob's.
fn pod_specs(children: &Children) -> Vec<&k8s_openapi::api::core::v1::PodSpec> {
    let deployment = children
        .deployment
        .iter()
        .filter_map(|d| d.spec.as_ref()?.template.spec.as_ref());
    let migration = children
        .migration_job
        .iter()
        .filter_map(|j| j.spec.as_ref()?.template.spec.as_ref());
    let cron = children.cron_jobs.iter().filter_map(|c| {
        c.spec
            .as_ref()?
            .job_template
            .spec
            .as_ref()?
            .template
            .spec
            .as_ref()
    });
    deployment.chain(migration).chain(cron).collect()
}

const WITH_JOBS: &str = "migrate: {command: [bin/migrate]}
cronJobs: [{name: nightly, schedule: '0 3 * * *', command: [bin/report]}]
";

/// The App's writable volumes reach the App's container in every pod it runs in (Deployment,
/// migration, cron jobs), normalised, with their size limit and medium; sidecars keep /tmp alone.
#[test]
fn writable_volumes_reach_every_pod_of_the_app() {
    let app = app_with_spec(
        "web",
        &format!(
            "{WEB}{WITH_JOBS}volumes:
  - {{name: cache, mountPath: /var/cache/web, sizeLimit: 2Gi}}
  - {{name: shm, mountPath: /dev/shm, medium: Memory, sizeLimit: 64Mi}}
sidecars: [{{name: proxy, image: envoy:1}}]
config: {{files: {{app.toml: 'x = 1'}}}}
"
        ),
    );
    let refused = baseplate_crd::admission::check_app(&app);
    assert!(refused.is_empty(), "{refused:?}");
    let children = render(&app);
    let pods = pod_specs(&children);
    assert_eq!(pods.len(), 3);
    for pod in pods {
        let volumes = pod.volumes.as_ref().unwrap();
        let cache = volumes.iter().find(|v| v.name == "cache").unwrap();
        let cache = cache.empty_dir.as_ref().unwrap();
        assert_eq!(cache.size_limit, Some(Quantity("2Gi".into())));
        assert_eq!(cache.medium, None, "the node's disk");
        let shm = volumes.iter().find(|v| v.name == "shm").unwrap();
        assert_eq!(
            shm.empty_dir.as_ref().unwrap().medium.as_deref(),
            Some("Memory")
        );
        let app_container = &pod.containers[0];
        let mounts: Vec<(&str, &str, Option<bool>)> = app_container
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.as_str(), m.mount_path.as_str(), m.read_only))
            .collect();
        assert_eq!(
            mounts,
            [
                ("tmp", "/tmp", None),
                ("cache", "/var/cache/web", None),
                ("shm", "/dev/shm", None),
                ("config", "/etc/app", Some(true)),
            ]
        );
    }
    let sidecar = &containers(&children)[1];
    let sidecar_mounts: Vec<&str> = sidecar
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(sidecar_mounts, ["tmp"]);
    let problems = common::api_rules::problems(&children);
    assert!(problems.is_empty(), "{problems:?}");
    let explained = settings(&app, &[]);
    assert_eq!(source(&explained, "volumes"), Source::App);

    // Without volumes, every pod has /tmp and nothing else writable.
    let plain = render(&web());
    let volumes = pod_spec(&plain).volumes.as_ref().unwrap();
    assert_eq!(volumes.len(), 1);
    assert_eq!(volumes[0].name, "tmp");
    assert!(
        pod_spec(&plain).image_pull_secrets.is_none(),
        "none by default"
    );
}

/// Image pull Secrets add up across the Platforms and the App, once per name, on every pod
/// template, and explain names every layer that listed one.
#[test]
fn image_pull_secrets_add_up_by_name_on_every_pod() {
    let low = platform_with_spec(
        "org",
        "priority: 1\ndefaults: {imagePullSecrets: [{name: org-registry}, {name: mirror}]}\n",
    );
    let high = platform_with_spec(
        "team",
        "priority: 2\ndefaults: {imagePullSecrets: [{name: mirror}, {name: team-registry}]}\n",
    );
    let app = app_with_spec(
        "web",
        &format!(
            "{WEB}{WITH_JOBS}imagePullSecrets: [{{name: own-registry}}, {{name: org-registry}}]\n"
        ),
    );
    let platforms = [low, high];
    let children = render_with(&app, &platforms);
    for pod in pod_specs(&children) {
        let names: Vec<&str> = pod
            .image_pull_secrets
            .iter()
            .flatten()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["org-registry", "mirror", "team-registry", "own-registry"]
        );
    }
    let explained = settings(&app, &platforms);
    let Source::Rule(rule) = source(&explained, "imagePullSecrets") else {
        panic!("{:?}", source(&explained, "imagePullSecrets"))
    };
    assert_eq!(rule, "added up by name: platform/org + platform/team + app");
    // One layer alone is named as itself.
    let only_platform = settings(&web(), &platforms[..1]);
    assert_eq!(
        source(&only_platform, "imagePullSecrets"),
        Source::Platform("org".into())
    );
}
