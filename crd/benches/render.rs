//! How long one render takes: the reference App, and a large App (main container + 9 sidecars,
//! 20 ports, 100 config files). The operator renders on every reconcile, so this bounds its
//! CPU per App. Admission (the CEL rules) is measured apart: it runs once per parse.
//!
//!   cargo bench -p baseplate-crd -- --warm-up-time 1 --measurement-time 3

use std::collections::BTreeMap;
use std::hint::black_box;

use baseplate_crd::app::{Config, Port, Probe, Resources, Secrets, Sidecar};
use baseplate_crd::{App, AppSpec, EffectivePlatform, SecretState, admission, manifest};
use criterion::{Criterion, criterion_group, criterion_main};

fn reference_app() -> App {
    let text = include_str!("../../examples/my-application.yaml");
    let mut app = manifest::parse("my-application.yaml", text)
        .expect("the reference App parses")
        .apps
        .remove(0);
    app.metadata.namespace = Some("default".into());
    app
}

fn large_app() -> App {
    let ports = |prefix: &str, base: i32, count: i32| -> Vec<Port> {
        (0..count)
            .map(|i| Port {
                name: format!("{prefix}{i}"),
                container_port: base + i,
                protocol: None,
            })
            .collect()
    };
    let sidecars = (0..9)
        .map(|i| Sidecar {
            name: format!("sidecar-{i}"),
            image: format!("registry.example.com/sidecar-{i}:1.0"),
            ports: ports(&format!("s{i}p"), 20000 + i * 10, 2),
            env: (0..10)
                .map(|e| (format!("SIDECAR_{i}_VAR_{e}"), format!("value-{e}")))
                .collect(),
            resources: Some(Resources {
                cpu: Some("50m".into()),
                memory: Some("64Mi".into()),
                ..Default::default()
            }),
            readiness_probe: Some(Probe {
                path: Some("/ready".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let spec = AppSpec {
        image: "registry.example.com/big/app:1.0".into(),
        ports: ports("port", 8000, 20),
        env: (0..50)
            .map(|i| (format!("VAR_{i}"), format!("value-{i}")))
            .collect(),
        readiness_probe: Some(Probe {
            path: Some("/healthz".into()),
            ..Default::default()
        }),
        liveness_probe: Some(Probe {
            path: Some("/livez".into()),
            port: Some("port1".into()),
            ..Default::default()
        }),
        sidecars,
        config: Some(Config {
            env: (0..50)
                .map(|i| (format!("CONFIG_{i}"), format!("value-{i}")))
                .collect(),
            files: (0..100)
                .map(|i| {
                    (
                        format!("file-{i}.yaml"),
                        format!("key: {i}\nlist: [a, b, c]\n").repeat(20),
                    )
                })
                .collect(),
            mount_path: None,
        }),
        secrets: Some(Secrets {
            generate: (0..10).map(|i| format!("GENERATED_{i}")).collect(),
            supplied: (0..10).map(|i| format!("SUPPLIED_{i}")).collect(),
        }),
        pod_labels: BTreeMap::from([("team".into(), "big".into())]),
        ..Default::default()
    };
    let mut app = App::new("large-app", spec);
    app.metadata.namespace = Some("default".into());
    app
}

fn secrets_for(app: &App) -> SecretState {
    let mut secrets = SecretState::default();
    let mut n = 0;
    secrets.generate_missing(&app.spec, || {
        n += 1;
        format!("{n:032}")
    });
    secrets
}

fn bench(c: &mut Criterion) {
    let platform = EffectivePlatform::builtin_only();
    for (name, app) in [("reference", reference_app()), ("large", large_app())] {
        assert!(
            admission::check_app(&app).is_empty(),
            "{name} is a valid App"
        );
        let secrets = secrets_for(&app);
        let children = baseplate_crd::render(&app, &platform, &secrets).expect("renders");
        assert_eq!(
            children
                .deployment
                .as_ref()
                .unwrap()
                .spec
                .as_ref()
                .unwrap()
                .template
                .spec
                .as_ref()
                .unwrap()
                .containers
                .len(),
            if name == "large" { 10 } else { 1 }
        );
        c.bench_function(&format!("render/{name}"), |b| {
            b.iter(|| {
                baseplate_crd::render(black_box(&app), black_box(&platform), black_box(&secrets))
                    .unwrap()
            })
        });
        c.bench_function(&format!("render+yaml/{name}"), |b| {
            b.iter(|| {
                let children = baseplate_crd::render(black_box(&app), &platform, &secrets).unwrap();
                manifest::to_yaml_stream(children.to_values())
            })
        });
        c.bench_function(&format!("admission/{name}"), |b| {
            b.iter(|| admission::check_app(black_box(&app)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
