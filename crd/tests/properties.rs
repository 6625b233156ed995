//! Property tests: many valid Apps (and Platforms) generated at random. Each must pass admission
//! after a round trip through YAML, render, and keep the invariants Baseplate promises.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use baseplate_crd::app::{
    Autoscaling, Config, IngressSpec, Port, Probe, ProbeExec, ProbeGrpc, ProbeScheme, Protocol,
    Resources, ScratchVolume, Secrets, Sidecar, VolumeMedium,
};
use baseplate_crd::platform::{
    IngressDefaults, PdbDefaults, PlatformDefaults, PlatformLimits, TlsDefaults,
    TopologySpreadDefaults,
};
use baseplate_crd::{App, AppSpec, Platform, PlatformSpec, manifest};
use common::{
    assert_names_valid, assert_ports_exist, assert_selectors_agree, containers, fixed_secrets,
    main_container, pod_spec, select, to_yaml,
};
use proptest::prelude::*;
use proptest::sample::select as one_of;

// ----------------------------------------------------------------------------------------------
// Strategies

fn dns_label(max_inner: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-z]([-a-z0-9]{{0,{max_inner}}}[a-z0-9])?")).unwrap()
}

fn port_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,5})?"
}

/// Up to `max` ports with unique names and numbers.
fn ports(max: usize) -> impl Strategy<Value = Vec<Port>> {
    (
        prop::collection::btree_set(port_name(), 0..=max),
        prop::collection::btree_set(1..=65535i32, max..=max),
        prop::collection::vec(
            prop::option::of(one_of(vec![Protocol::Tcp, Protocol::Udp, Protocol::Sctp])),
            max..=max,
        ),
    )
        .prop_map(|(names, numbers, protocols)| {
            names
                .into_iter()
                .zip(numbers)
                .zip(protocols)
                .map(|((name, container_port), protocol)| Port {
                    name,
                    container_port,
                    protocol,
                })
                .collect()
        })
        // The order of ports matters (the first is the default), so shuffle away the set's order.
        .prop_shuffle()
}

/// The names of the ports that speak TCP: probes and the Ingress can use no others.
fn tcp_names(ports: &[Port]) -> Vec<String> {
    ports
        .iter()
        .filter(|p| p.protocol.unwrap_or_default() == Protocol::Tcp)
        .map(|p| p.name.clone())
        .collect()
}

/// A probe on one of the TCP `ports` (or on the first one), or none; never a probe without one.
fn probe(ports: &[Port]) -> BoxedStrategy<Option<Probe>> {
    let names = tcp_names(ports);
    if names.is_empty() {
        return Just(None).boxed();
    }
    // The handler: 0 TCP, 1 HTTP(S) GET, 2 exec (no port), 3 gRPC.
    prop::option::of((
        0..4u8,
        prop::option::of(one_of(names)),
        "/[a-z]{0,8}",
        any::<bool>(),
        prop::option::of(0..=30i32),
        prop::option::of(1..=20i32),
        prop::option::of(1..=10i32),
    ))
    .prop_map(|found| {
        found.map(
            |(
                handler,
                port,
                path,
                https,
                initial_delay_seconds,
                period_seconds,
                failure_threshold,
            )| {
                let http = handler == 1;
                Probe {
                    path: http.then_some(path),
                    scheme: (http && https).then_some(ProbeScheme::Https),
                    exec: (handler == 2).then(|| ProbeExec {
                        command: vec!["/bin/check".into()],
                    }),
                    grpc: (handler == 3).then(ProbeGrpc::default),
                    port: port.filter(|_| handler != 2),
                    initial_delay_seconds,
                    period_seconds,
                    timeout_seconds: None,
                    failure_threshold,
                    ..Default::default()
                }
            },
        )
    })
    .boxed()
}

/// Strings that YAML 1.1 readers (kubectl among them) would take for something else.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ -~]{0,24}",
        1 => one_of(vec!["y", "no", "on", "true", "null", "~", "1.0", "0x1F", "012", "1e3", "2024-01-01", "", " lead", "a: b", "- x", "#c", "multi\nline\n"]).prop_map(String::from),
    ]
}

fn env_map(prefix: &'static str) -> impl Strategy<Value = BTreeMap<String, String>> {
    let key = proptest::string::string_regex(&format!("{prefix}[A-Z0-9_]{{0,8}}")).unwrap();
    prop::collection::btree_map(key, text(), 0..4)
}

fn quantity(options: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop::option::of(one_of(options).prop_map(String::from))
}

fn resources() -> impl Strategy<Value = Option<Resources>> {
    prop::option::of(
        (
            quantity(&["50m", "100m", "250m", "0.5", "1", "2"]),
            quantity(&["64Mi", "128Mi", "256Mi", "1Gi", "1.5Gi"]),
            // Limits at least every request above: a limit below its request is refused.
            quantity(&["2", "4000m"]),
            quantity(&["2Gi", "3G"]),
        )
            .prop_map(|(cpu, memory, cpu_limit, memory_limit)| Resources {
                cpu,
                memory,
                cpu_limit,
                memory_limit,
            }),
    )
}

/// Neither, a fixed size, or autoscaling (min <= max, and max >= the built-in and generated
/// Platform minimums when the App leaves its minimum to them).
fn scaling() -> impl Strategy<Value = (Option<i32>, Option<Autoscaling>)> {
    prop_oneof![
        Just((None, None)),
        (0..=12i32).prop_map(|r| (Some(r), None)),
        (
            prop::option::of(any::<bool>()),
            prop::option::of(1..=5i32),
            prop::option::of(0..=15i32),
            prop::option::of(1..=100i32)
        )
            .prop_map(|(enabled, min, extra, target)| {
                // An App that raises its minimum states its maximum too: a minimum above a
                // Platform's maximum is an invalid App (a rules.rs case), not a valid one.
                let max = match min {
                    Some(min) => Some(min + extra.unwrap_or(0)),
                    None => extra.map(|e| 3 + e),
                };
                (
                    None,
                    Some(Autoscaling {
                        enabled,
                        min_replicas: min,
                        max_replicas: max,
                        target_cpu_utilization_percentage: target,
                        ..Default::default()
                    }),
                )
            }),
        // Autoscaling switched off next to a fixed size is allowed too.
        (0..=12i32).prop_map(|r| (
            Some(r),
            Some(Autoscaling {
                enabled: Some(false),
                ..Default::default()
            })
        )),
    ]
}

fn sidecar() -> impl Strategy<Value = Sidecar> {
    (dns_label(10), ports(2), env_map("X"), resources()).prop_flat_map(
        |(name, ports, env, resources)| {
            (probe(&ports), probe(&ports)).prop_map(move |(readiness_probe, liveness_probe)| {
                Sidecar {
                    name: name.clone(),
                    image: format!("registry.example.com/{name}:1"),
                    ports: ports.clone(),
                    env: env.clone(),
                    command: None,
                    args: Some(vec!["--verbose".into()]),
                    resources: resources.clone(),
                    readiness_probe,
                    liveness_probe,
                    startup_probe: None,
                }
            })
        },
    )
}

fn sidecars() -> impl Strategy<Value = Vec<Sidecar>> {
    prop::collection::vec(sidecar(), 0..=2).prop_map(|mut sidecars| {
        let mut seen = BTreeSet::new();
        sidecars.retain(|s| s.name != "app" && seen.insert(s.name.clone()));
        sidecars
    })
}

fn config() -> impl Strategy<Value = Option<Config>> {
    prop::option::of(
        (
            env_map("C"),
            prop::collection::btree_map("[a-z][-._a-z0-9]{0,12}", text(), 0..4),
            prop::option::of(
                one_of(vec!["/etc/app", "/config", "/srv/conf.d"]).prop_map(String::from),
            ),
        )
            .prop_map(|(env, files, mount_path)| Config {
                env,
                files,
                mount_path,
            }),
    )
}

/// Writable volumes under /var, clear of every config mount path above; a Memory volume
/// small enough for any memory limit generated.
fn volumes() -> impl Strategy<Value = Vec<ScratchVolume>> {
    prop::collection::vec((any::<bool>(), prop::option::of(1..=4u8)), 0..3).prop_map(|drawn| {
        drawn
            .into_iter()
            .enumerate()
            .map(|(i, (memory, gib))| ScratchVolume {
                name: format!("scratch-{i}"),
                mount_path: format!("/var/scratch/{i}"),
                size_limit: if memory {
                    Some("16Mi".into())
                } else {
                    gib.map(|n| format!("{n}Gi"))
                },
                medium: memory.then_some(VolumeMedium::Memory),
            })
            .collect()
    })
}

fn secrets() -> impl Strategy<Value = Option<Secrets>> {
    prop::option::of(
        prop::collection::btree_map("S[A-Z0-9_]{0,8}", any::<bool>(), 0..5).prop_map(|keys| {
            let (generate, supplied): (Vec<_>, Vec<_>) =
                keys.into_iter().partition(|(_, generated)| *generated);
            Secrets {
                generate: generate.into_iter().map(|(k, _)| k).collect(),
                supplied: supplied.into_iter().map(|(k, _)| k).collect(),
            }
        }),
    )
}

fn ingress(ports: &[Port]) -> BoxedStrategy<Option<IngressSpec>> {
    let names = tcp_names(ports);
    if names.is_empty() {
        return prop::option::of(Just(IngressSpec {
            enabled: Some(false),
            ..Default::default()
        }))
        .boxed();
    }
    prop::option::of((
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![
            "[a-z]{1,10}\\.example\\.com",
            "\\*\\.[a-z]{1,8}\\.example\\.org"
        ]),
        prop::collection::vec("/[a-z]{0,6}", 0..3),
        prop::option::of(one_of(names)),
    ))
    .prop_map(|found| {
        found.map(|(enabled, host, paths, port)| IngressSpec {
            enabled,
            host,
            paths,
            port,
        })
    })
    .boxed()
}

prop_compose! {
    fn valid_app()(
        name in dns_label(61),
        namespace in dns_label(20),
        ports in ports(5),
        env in env_map("E"),
        (replicas, autoscaling) in scaling(),
        resources in resources(),
        sidecars in sidecars(),
        config in config(),
        secrets in secrets(),
        pod_labels in prop::collection::btree_map("[a-z]{1,8}", "[a-z0-9]{0,8}", 0..3),
        pod_annotations in prop::collection::btree_map("example\\.com/[a-z]{1,8}", text(), 0..2),
    )(
        readiness_probe in probe(&ports),
        liveness_probe in probe(&ports),
        startup_probe in probe(&ports),
        ingress in ingress(&ports),
        volumes in volumes(),
        name in Just(name), namespace in Just(namespace), ports in Just(ports), env in Just(env),
        replicas in Just(replicas), autoscaling in Just(autoscaling), resources in Just(resources),
        sidecars in Just(sidecars), config in Just(config), secrets in Just(secrets),
        pod_labels in Just(pod_labels), pod_annotations in Just(pod_annotations),
    ) -> App {
        let spec = AppSpec {
            image: format!("registry.example.com/{name}:1.0"),
            ports, env, replicas, autoscaling, resources,
            command: None, args: None,
            readiness_probe, liveness_probe, startup_probe,
            sidecars, config, secrets, ingress, pod_labels, pod_annotations,
            // Generated Apps leave pod placement and drain timing to the Platforms.
            pre_stop_sleep_seconds: None, termination_grace_period_seconds: None,
            node_selector: None, tolerations: None, affinity: None, priority_class_name: None,
            migrate: None, cron_jobs: vec![],
            volumes, image_pull_secrets: vec![],
        };
        let mut app = App::new(&name, spec);
        app.metadata.namespace = Some(namespace);
        app
    }
}

/// Whether every port name and every socket (number and protocol) appears once in the pod, as
/// containers sharing a network need.
fn pod_ports_unique(app: &App) -> bool {
    let all: Vec<&Port> = app
        .spec
        .ports
        .iter()
        .chain(app.spec.sidecars.iter().flat_map(|s| &s.ports))
        .collect();
    let names: BTreeSet<&str> = all.iter().map(|p| p.name.as_str()).collect();
    let sockets: BTreeSet<(i32, &str)> = all
        .iter()
        .map(|p| (p.container_port, p.protocol.unwrap_or_default().as_str()))
        .collect();
    names.len() == all.len() && sockets.len() == all.len()
}

fn unique_pod_ports_app() -> impl Strategy<Value = App> {
    valid_app().prop_filter("port names and sockets unique in the pod", pod_ports_unique)
}

fn platform_defaults() -> impl Strategy<Value = PlatformDefaults> {
    (
        (
            prop::option::of(0..=5i32),
            prop::option::of((
                prop::option::of(any::<bool>()),
                prop::option::of(1..=3i32),
                prop::option::of(3..=12i32),
            )),
            prop::option::of(0..=60i64),
            prop::option::of(0..=120i64),
            prop::option::of(any::<bool>()),
        ),
        (
            prop::option::of((
                any::<bool>(),
                prop::option::of(one_of(vec![
                    "{name}.{namespace}.example.com",
                    "{name}.apps.example.com",
                ])),
            )),
            prop::option::of(prop::option::of(one_of(vec!["http", "web"]))),
            prop::option::of(one_of(vec!["ScheduleAnyway", "DoNotSchedule"])),
            prop::collection::btree_map("example\\.com/[a-z]{1,6}", "[a-z]{0,6}", 0..2),
        ),
    )
        .prop_map(
            |(
                (replicas, autoscaling, pre_stop, grace, pdb),
                (ingress, probe_port, unsatisfiable, labels),
            )| PlatformDefaults {
                replicas,
                autoscaling: autoscaling.map(|(enabled, min_replicas, max_replicas)| Autoscaling {
                    enabled,
                    min_replicas,
                    max_replicas,
                    ..Default::default()
                }),
                pre_stop_sleep_seconds: pre_stop,
                termination_grace_period_seconds: grace,
                pod_disruption_budget: pdb.map(|enabled| PdbDefaults {
                    enabled: Some(enabled),
                    max_unavailable: None,
                }),
                ingress: ingress.map(|(tls, template)| IngressDefaults {
                    enabled: None,
                    class_name: Some("nginx".into()),
                    host_template: template.map(String::from),
                    tls: Some(TlsDefaults {
                        enabled: Some(tls),
                        cluster_issuer: Some("letsencrypt".into()),
                        secret_name_template: None,
                    }),
                }),
                readiness_probe: probe_port.map(|port| Probe {
                    port: port.map(String::from),
                    path: Some("/healthz".into()),
                    ..Default::default()
                }),
                topology_spread: unsatisfiable.map(|w| TopologySpreadDefaults {
                    when_unsatisfiable: Some(w.into()),
                    ..Default::default()
                }),
                labels,
                ..Default::default()
            },
        )
}

prop_compose! {
    fn valid_platform()(
        name in dns_label(12),
        priority in -10..=10i32,
        defaults in platform_defaults(),
        min_pre_stop in prop::option::of(0..=30i64),
    ) -> Platform {
        Platform::new(&name, PlatformSpec {
            priority,
            namespace_selector: None,
            defaults,
            limits: PlatformLimits { min_pre_stop_sleep_seconds: min_pre_stop, ..Default::default() },
            rollout: None,
        })
    }
}

fn valid_platforms() -> impl Strategy<Value = Vec<Platform>> {
    prop::collection::vec(valid_platform(), 0..=2).prop_map(|mut platforms| {
        let mut seen = BTreeSet::new();
        platforms.retain(|p| seen.insert(p.metadata.name.clone()));
        platforms
    })
}

// ----------------------------------------------------------------------------------------------
// Invariants

/// The value the highest Platform sets, if any, else `None`.
fn highest<T>(platforms: &[Platform], get: impl Fn(&PlatformDefaults) -> Option<T>) -> Option<T> {
    select(platforms)
        .layers
        .iter()
        .rev()
        .find_map(|l| get(&l.defaults))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn valid_apps_pass_admission_render_and_keep_every_invariant(app in unique_pod_ports_app(), platforms in valid_platforms()) {
        // Admission, after the trip through YAML that `kubectl apply` and `baseplate render` take.
        let yaml = serde_saphyr::to_string(&app).unwrap();
        let parsed = manifest::parse("generated", &yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        prop_assert_eq!(&parsed.apps, &vec![app.clone()], "the App changed on its way through YAML:\n{}", yaml);
        for platform in &platforms {
            let yaml = serde_saphyr::to_string(platform).unwrap();
            let parsed = manifest::parse("generated", &yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
            prop_assert_eq!(&parsed.platforms, &vec![platform.clone()]);
        }

        let secrets = fixed_secrets(&app);
        let effective = select(&platforms);
        let children = baseplate_crd::render(&app, &effective, &secrets).unwrap_or_else(|e| panic!("{e}\n{yaml}"));

        // Deterministic, and what `baseplate render` prints reads back as the same objects.
        let printed = to_yaml(&children);
        prop_assert_eq!(&printed, &to_yaml(&baseplate_crd::render(&app, &effective, &secrets).unwrap()));
        let read_back: Vec<serde_json::Value> = serde_saphyr::from_multiple(&printed).unwrap();
        prop_assert_eq!(read_back, children.to_values());

        // Grace period covers the drain.
        let pod = pod_spec(&children);
        let grace = pod.termination_grace_period_seconds.unwrap();
        for container in containers(&children) {
            let pre_stop = container.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()).and_then(|p| p.sleep.as_ref()).map_or(0, |s| s.seconds);
            prop_assert!(grace >= pre_stop + 20, "grace {} < preStop {} + 20", grace, pre_stop);
            let floor = platforms.iter().filter_map(|p| p.spec.limits.min_pre_stop_sleep_seconds).max().unwrap_or(0);
            prop_assert!(pre_stop >= floor, "preStop {} below the limit {}", pre_stop, floor);
        }

        // HPA xor fixed replicas, the App's choice first; the HPA scales this Deployment.
        let deployment_replicas = children.deployment.as_ref().unwrap().spec.as_ref().unwrap().replicas;
        let expect_hpa = match (app.spec.autoscaling.as_ref(), app.spec.replicas) {
            (Some(Autoscaling { enabled: Some(enabled), .. }), _) => *enabled,
            (_, Some(_)) => false,
            (Some(_), None) => true,
            (None, None) => highest(&platforms, |d| d.autoscaling.as_ref()?.enabled).unwrap_or(true),
        };
        prop_assert_eq!(children.horizontal_pod_autoscaler.is_some(), expect_hpa);
        prop_assert_eq!(children.horizontal_pod_autoscaler.is_some(), deployment_replicas.is_none());
        if app.spec.replicas.is_some() {
            prop_assert_eq!(deployment_replicas, app.spec.replicas, "an App's fixed size always wins");
        }
        let min_replicas = match &children.horizontal_pod_autoscaler {
            Some(hpa) => {
                let spec = hpa.spec.as_ref().unwrap();
                prop_assert_eq!(&spec.scale_target_ref.kind, "Deployment");
                prop_assert_eq!(Some(&spec.scale_target_ref.name), children.deployment.as_ref().unwrap().metadata.name.as_ref());
                prop_assert!(spec.min_replicas.unwrap() <= spec.max_replicas);
                spec.min_replicas.unwrap()
            }
            None => deployment_replicas.unwrap(),
        };

        // A PDB exactly when it protects something and no Platform turned it off.
        let pdb_enabled = highest(&platforms, |d| d.pod_disruption_budget.as_ref()?.enabled).unwrap_or(true);
        prop_assert_eq!(children.pod_disruption_budget.is_some(), pdb_enabled && min_replicas >= 2);

        // Selectors, ports and names.
        assert_selectors_agree(&children);
        assert_ports_exist(&children);
        assert_names_valid(&children);
        prop_assert_eq!(children.service.is_some(), !app.spec.ports.is_empty());
        let has_tcp_port = !tcp_names(&app.spec.ports).is_empty();
        prop_assert_eq!(main_container(&children).readiness_probe.is_some(), has_tcp_port);
        if app.spec.ingress.as_ref().and_then(|i| i.enabled) == Some(false) || !has_tcp_port {
            prop_assert!(children.ingress.is_none());
        }

        // Every env key of the App reaches the main container once, and no value sits in the spec.
        let env = main_container(&children).env.clone().unwrap_or_default();
        let mut expected: Vec<&str> = app.spec.env.keys().map(String::as_str).collect();
        expected.extend(app.spec.config.iter().flat_map(|c| c.env.keys().map(String::as_str)));
        expected.extend(app.spec.secrets.iter().flat_map(|s| s.key_names()));
        let mut names: Vec<&str> = env.iter().map(|e| e.name.as_str()).collect();
        expected.sort_unstable();
        names.sort_unstable();
        prop_assert_eq!(names, expected);
        prop_assert!(env.iter().all(|e| e.value.is_none() && e.value_from.is_some()));

        // The config volume mounts exactly the files.
        let files: Vec<&String> = app.spec.config.iter().flat_map(|c| c.files.keys()).collect();
        let volume = pod.volumes.iter().flatten().find(|v| v.name == "config");
        let mounted: Vec<&String> = volume.iter().flat_map(|v| v.config_map.as_ref().unwrap().items.iter().flatten().map(|i| &i.key)).collect();
        prop_assert_eq!(mounted, files);
    }
}

// ----------------------------------------------------------------------------------------------
// Any Platform: defaults and limits drawn without regard to what fits, layered over valid Apps.

fn any_platform_defaults() -> impl Strategy<Value = PlatformDefaults> {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let int_or_string = |options: Vec<IntOrString>| prop::option::of(one_of(options));
    let counts = vec![
        IntOrString::Int(0),
        IntOrString::Int(1),
        IntOrString::String("0%".into()),
        IntOrString::String("25%".into()),
        IntOrString::String("100%".into()),
    ];
    (
        (
            prop::option::of((
                quantity(&["50m", "100m", "2"]),
                quantity(&["64Mi", "1Gi", "1.5", "1Ki"]),
                quantity(&["10m", "1", "4"]),
                quantity(&["32Mi", "2Gi"]),
            )),
            prop::option::of(0..=900i32),
            prop::option::of(30..=1200i32),
            int_or_string(counts.clone()),
            int_or_string(counts),
            int_or_string(vec![IntOrString::Int(1), IntOrString::String("50%".into())]),
        ),
        (
            prop::option::of(
                one_of(vec!["/etc/app", "/tmp/x", "/srv//conf/", "/etc/../tmp"])
                    .prop_map(String::from),
            ),
            prop::option::of(prop::collection::vec(
                one_of(vec![
                    "topology.kubernetes.io/zone",
                    "kubernetes.io/hostname",
                    "zone",
                ])
                .prop_map(String::from),
                0..3,
            )),
            prop::option::of(one_of(vec!["nginx", "Nginx"]).prop_map(String::from)),
            prop::collection::btree_map(
                one_of(vec!["example.com/a", "example.com/b", "bad key"]).prop_map(String::from),
                "[a-z]{0,6}",
                0..2,
            ),
        ),
    )
        .prop_map(
            |(
                (resources, min_ready, deadline, surge, unavailable, pdb),
                (mount, keys, class, annotations),
            )| PlatformDefaults {
                resources: resources.map(|(cpu, memory, cpu_limit, memory_limit)| Resources {
                    cpu,
                    memory,
                    cpu_limit,
                    memory_limit,
                }),
                min_ready_seconds: min_ready,
                progress_deadline_seconds: deadline,
                rolling_update: Some(baseplate_crd::platform::RollingUpdateDefaults {
                    max_surge: surge,
                    max_unavailable: unavailable,
                }),
                pod_disruption_budget: pdb.map(|max| PdbDefaults {
                    enabled: None,
                    max_unavailable: Some(max),
                }),
                config_mount_path: mount,
                topology_spread: keys.map(|keys| TopologySpreadDefaults {
                    topology_keys: Some(keys),
                    ..Default::default()
                }),
                ingress: class.map(|class| IngressDefaults {
                    class_name: Some(class),
                    ..Default::default()
                }),
                annotations,
                ..Default::default()
            },
        )
}

prop_compose! {
    fn any_platform()(
        name in dns_label(12),
        priority in -10..=10i32,
        defaults in any_platform_defaults(),
        max_cpu in quantity(&["1", "4"]),
        max_memory in quantity(&["1Gi", "8Gi"]),
        max_replicas in prop::option::of(one_of(vec![3, 10])),
    ) -> Platform {
        Platform::new(&name, PlatformSpec {
            priority,
            namespace_selector: None,
            defaults,
            limits: PlatformLimits { max_cpu, max_memory, max_replicas, ..Default::default() },
            rollout: None,
        })
    }
}

/// An error a user can act on: it names a field and says something about it.
fn is_clear(field: &str, message: &str) -> bool {
    !field.is_empty() && !field.contains("<") && message.len() > 20
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever the Platforms say, an App ends with a clear error (the Platform's at admission,
    /// the App's at resolution or from a guardrail) or with children the API server and the
    /// kubelet take.
    #[test]
    fn any_platforms_over_valid_apps_give_a_clear_error_or_children_that_pass_the_checks(
        app in unique_pod_ports_app(),
        platforms in prop::collection::vec(any_platform(), 0..=2),
    ) {
        let mut admitted = Vec::new();
        for platform in platforms {
            let yaml = serde_saphyr::to_string(&platform).unwrap();
            match manifest::parse("generated", &yaml) {
                Ok(parsed) => admitted.extend(parsed.platforms),
                Err(baseplate_crd::error::ManifestError::Invalid { errors, .. }) => {
                    for e in &errors {
                        prop_assert!(e.field.starts_with("spec."), "{}", e);
                        prop_assert!(is_clear(&e.field, &e.message), "{}", e);
                    }
                }
                Err(other) => prop_assert!(false, "{}", other),
            }
        }
        let mut seen = BTreeSet::new();
        admitted.retain(|p| seen.insert(p.metadata.name.clone()));
        match baseplate_crd::render(&app, &select(&admitted), &fixed_secrets(&app)) {
            Ok(children) => {
                let problems = common::api_rules::problems(&children);
                prop_assert!(problems.is_empty(), "{:?}\n{}", problems, serde_saphyr::to_string(&admitted).unwrap());
            }
            Err(baseplate_crd::RenderError::InvalidSpec(errors)) => {
                for e in &errors {
                    prop_assert!(is_clear(&e.field, &e.message), "{}", e);
                }
            }
            Err(baseplate_crd::RenderError::PolicyViolation(violations)) => {
                for v in &violations {
                    prop_assert!(is_clear(&v.field, &v.message), "{}", v);
                }
            }
            Err(other) => prop_assert!(false, "{}", other),
        }
    }
}
