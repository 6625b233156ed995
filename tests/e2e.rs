//! End-to-end tests against the cluster in KUBECONFIG (Kubernetes 1.33+):
//! `BASEPLATE_E2E=1 make e2e`.
//!
//! Every test installs the CRDs and the operator's ClusterRole (deploy/rbac.yaml), starts
//! `baseplate run` as a child process acting as the operator's ServiceAccount (impersonated,
//! so a missing RBAC verb fails the suite; `BASEPLATE_E2E_AS_ADMIN=1` runs it with your own
//! credentials instead), works in a namespace of its own and deletes what it made.
//!
//! Only what the control plane does is asserted, never that pods run, so a cluster without
//! nodes will do: where pods must fail, the test writes their status through `pods/status`
//! as the kubelet or the scheduler would (`kubelet` in the kit), on pods no node runs.
//! Garbage collection needs kube-controller-manager.
//!
//! The operator under test is the `baseplate` binary Cargo built for the same profile
//! (`make e2e` builds it first), or the one named in `BASEPLATE_BIN`; the kit in `src/`
//! (package `baseplate-tests`) starts it.

// More tests, one file per capability, beside this one.
#[path = "e2e/platform_diff.rs"]
mod platform_diff;

use std::collections::BTreeMap;

use anyhow::{Context as _, ensure};
use baseplate_crd::app::{Autoscaling, IngressSpec, Port, Probe, Resources, Secrets};
use baseplate_crd::platform::{PlatformDefaults, PlatformSpec};
use baseplate_crd::{App, AppSpec, Platform};
use baseplate_tests::Result;
use baseplate_tests::checks::{applied_fields, check_condition, check_not_degraded, condition};
use baseplate_tests::env::{Env, GARBAGE_COLLECTION, MANAGER, OPERATOR, REACT, children_in};
use baseplate_tests::fixtures::{SEVEN_KINDS, child_names, reference_spec};
use baseplate_tests::kubelet::{
    scheduler_message, unscheduled_pods, write_container_statuses, write_unschedulable,
};
use baseplate_tests::namespace::DeleteOnDrop;
use baseplate_tests::table::{self, cases::Where};
use baseplate_tests::wait::eventually;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

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
    check_not_degraded(&app)?;
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
        check_not_degraded(&app)
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
    check_not_degraded(&env.app(APP).await?)?;
    Ok(())
}

/// How soon the App must tell what the kubelet or the scheduler reported (the issue: "within
/// about 30 s").
const TELL: std::time::Duration = std::time::Duration::from_secs(30);

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn pods_that_cannot_start_are_explained_in_the_apps_status() -> Result {
    let Some(env) = Env::start("pods").await? else {
        return Ok(());
    };
    // More cpu than any node has: the pods stay unscheduled, so nothing but this test (as
    // kubelet) and the scheduler writes their status.
    let mut spec = reference_spec()?;
    spec.replicas = Some(1);
    spec.resources = Some(Resources {
        cpu: Some("1000".into()),
        ..Default::default()
    });
    env.apply_app(APP, spec).await?;
    let pods = env.api::<Pod>();
    let pod = unscheduled_pods(&env, APP, 1).await?.remove(0);
    let requested = pod.spec.as_ref().unwrap().containers[0]
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("cpu"))
        .map(|q| q.0.clone())
        .unwrap_or_default();

    // Unschedulable: the scheduler's words (this test's where no scheduler runs) and the
    // request that did not fit.
    if scheduler_message(&pods.get(&pod.name_any()).await?).is_none() {
        write_unschedulable(&pods, &pod, "0/2 nodes are available: 2 Insufficient cpu.").await?;
    }
    eventually("the App says no node can run the pods", TELL, async || {
        let said = scheduler_message(&pods.get(&pod.name_any()).await?).unwrap_or_default();
        let app = env.app(APP).await?;
        check_condition(&app, "Ready", "False", Some("Unschedulable"))?;
        check_condition(&app, "Degraded", "True", Some("Unschedulable"))?;
        let message = &condition(&app, "Ready").unwrap().message;
        ensure!(
            message.contains(said.trim()) && message.contains(&format!("app: cpu {requested}")),
            "message: {message}; the scheduler said {said:?}"
        );
        Ok(())
    })
    .await?;

    // An image that cannot be pulled.
    let pull_error = json!([{
        "name": "app", "image": "nginx:1.14", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ErrImagePull", "message": "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/library/nginx:1.14\": docker.io/library/nginx:1.14: not found"}}
    }]);
    write_container_statuses(&pods, &pod, pull_error).await?;
    eventually(
        "the App says the image cannot be pulled",
        TELL,
        async || {
            let app = env.app(APP).await?;
            check_condition(&app, "Ready", "False", Some("ImagePullFailed"))?;
            let message = &condition(&app, "Ready").unwrap().message;
            ensure!(
                message.contains("cannot pull image nginx:1.14")
                    && message.contains("does not exist: check spec.image"),
                "message: {message}"
            );
            Ok(())
        },
    )
    .await?;

    // A crash loop; then the kubelet retries, and nothing more is written or told.
    let crashing = |restarts: u32| {
        json!([{
            "name": "app", "image": "nginx:1.14", "imageID": "docker.io/library/nginx@sha256:0", "ready": false, "restartCount": restarts,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off {}s restarting failed container=app pod={}", 10 * restarts, pod.name_any())}},
            "lastState": {"terminated": {"exitCode": 3, "reason": "Error", "message": "DATABASE_URL is not set"}}
        }])
    };
    write_container_statuses(&pods, &pod, crashing(1)).await?;
    let settled = eventually("the App says the container crashes", TELL, async || {
        let app = env.app(APP).await?;
        check_condition(&app, "Ready", "False", Some("CrashLooping"))?;
        let message = &condition(&app, "Ready").unwrap().message;
        ensure!(
            message.contains("container app exits with code 3")
                && message.contains("DATABASE_URL is not set"),
            "message: {message}"
        );
        Ok(app)
    })
    .await?;
    for restarts in 2..5 {
        write_container_statuses(&pods, &pod, crashing(restarts)).await?;
    }
    // Time for the operator to have seen them all (it reacts within a second or two).
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let after = env.app(APP).await?;
    assert_eq!(
        after.metadata.resource_version, settled.metadata.resource_version,
        "the retries rewrote the App's status"
    );
    let mut told: Vec<String> = env
        .events(APP)
        .await?
        .into_iter()
        .map(|(reason, _)| reason)
        .filter(|r| ["Unschedulable", "ImagePullFailed", "CrashLooping"].contains(&r.as_str()))
        .collect();
    told.sort();
    assert_eq!(
        told,
        ["CrashLooping", "ImagePullFailed", "Unschedulable"],
        "one event per cause"
    );

    // The containers gone again: the cause that is left is the scheduler's.
    write_container_statuses(&pods, &pod, serde_json::Value::Null).await?;
    eventually("the crash loop clears", TELL, async || {
        let app = env.app(APP).await?;
        check_condition(&app, "Ready", "False", Some("Unschedulable"))
    })
    .await?;
    Ok(())
}

/// The whole invalid table (`crd/tests/data/invalid.yaml`) against the API server and the
/// running operator: each admission case is refused by the API server naming its field, and
/// each status case is stored, then reported by the operator with its reason and every error
/// the offline check gives, while the children of the App's valid version stay exactly as
/// they were. A disagreement with the offline verdict is a parity bug.
#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn the_invalid_table_is_refused_at_admission_or_reported_by_the_operator() -> Result {
    let Some(env) = Env::start("table").await? else {
        return Ok(());
    };
    let cases = table::cases::all();
    let mut failures = Vec::new();
    let mut platforms = Vec::new();
    for (i, case) in cases
        .iter()
        .filter(|c| c.refused == Where::Admission)
        .enumerate()
    {
        let mut object = table::to_json(&case.document())?;
        if object["kind"] == "App" {
            object["metadata"]["namespace"] = json!(env.namespace);
        } else {
            let name = format!("{}-{i}", env.namespace);
            object["metadata"]["name"] = json!(name);
            platforms.push(DeleteOnDrop::<Platform>::new(&name));
        }
        let field = &case.errors[0].field;
        match table::apply(&env.client, MANAGER, &object).await {
            Ok(()) => failures.push(format!(
                "{}: the API server accepted it; offline it is refused on {field}",
                case.name
            )),
            Err(kube::Error::Api(status)) if table::names_field(&status.message, field) => {}
            Err(kube::Error::Api(status)) => failures.push(format!(
                "{}: refused ({}), but not naming {field}: {}",
                case.name, status.code, status.message
            )),
            Err(other) => return Err(other.into()),
        }
    }

    // The status cases run side by side, each in a namespace of its own (the waits are not
    // `Send`, hence a local set on the test's own thread).
    let status_cases: Vec<_> = cases
        .into_iter()
        .filter(|c| c.refused == Where::Status)
        .collect();
    let local = tokio::task::LocalSet::new();
    let outcomes = local
        .run_until(async {
            let mut running = tokio::task::JoinSet::new();
            for (i, case) in status_cases.into_iter().enumerate() {
                let client = env.client.clone();
                let namespace = format!("{}-s{i}", env.namespace);
                running.spawn_local(async move {
                    let name = case.name.clone();
                    status_case(client, namespace, case)
                        .await
                        .map_err(|e| format!("{name}: {e:#}"))
                });
            }
            running.join_all().await
        })
        .await;
    failures.extend(outcomes.into_iter().filter_map(|outcome| outcome.err()));
    drop(platforms);
    ensure!(
        failures.is_empty(),
        "{} cases disagree with the offline verdict:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}

/// One status case in a namespace of its own: the App's valid version gets its children, then
/// the case's Platforms (selecting only that namespace) and the invalid version are applied.
async fn status_case(client: kube::Client, namespace: String, case: table::cases::Case) -> Result {
    use baseplate_tests::namespace::create_temporary_namespace;
    use table::cases::{APP, Reason};

    let _namespace = create_temporary_namespace(
        &client,
        &namespace,
        BTreeMap::from([("baseplate-e2e".into(), "true".into())]),
    )
    .await?;
    let apps: Api<App> = Api::namespaced(client.clone(), &namespace);
    let valid = json!({
        "apiVersion": "baseplate.dev/v1alpha1", "kind": "App",
        "metadata": {"name": APP, "namespace": namespace},
        "spec": {"image": "nginx:1.27", "ports": [{"name": "http", "containerPort": 8080}]},
    });
    table::apply(&client, MANAGER, &valid).await?;
    eventually("the valid App's children", REACT, async || {
        let app = apps.get(APP).await?;
        let observed = app.status.as_ref().and_then(|s| s.observed_generation);
        ensure!(
            observed.is_some() && observed == app.metadata.generation,
            "not reconciled yet"
        );
        let found = children_in(&client, &namespace, APP).await?;
        ensure!(
            found.len() == SEVEN_KINDS.len(),
            "children {:?}",
            found.keys()
        );
        Ok(())
    })
    .await?;

    let mut expected: Vec<(String, String)> = case
        .errors
        .iter()
        .map(|e| (e.field.clone(), e.message.clone()))
        .collect();
    let mut platforms = Vec::new();
    for (short, document) in case.platform_documents() {
        let name = format!("{namespace}-{short}");
        let mut object = table::to_json(&document)?;
        object["metadata"]["name"] = json!(name);
        object["spec"]["namespaceSelector"] =
            json!({"matchLabels": {"kubernetes.io/metadata.name": namespace}});
        platforms.push(DeleteOnDrop::<Platform>::new(&name));
        table::apply(&client, MANAGER, &object)
            .await
            .with_context(|| {
                format!("the API server refuses Platform {short}, which passes offline")
            })?;
        for (_, message) in &mut expected {
            *message = message.replace(&format!("platform/{short}"), &format!("platform/{name}"));
        }
    }
    // A Platform may change the valid App's children (a new default) or refuse it already (a
    // clash it makes alone): what must stay is what the operator made of it with the Platforms.
    if !platforms.is_empty() {
        let names: Vec<String> = case
            .platform_documents()
            .into_iter()
            .map(|(short, _)| format!("{namespace}-{short}"))
            .collect();
        eventually("the Platforms reach the valid App", REACT, async || {
            let app = apps.get(APP).await?;
            let listed = app
                .status
                .as_ref()
                .map(|s| s.platforms.clone())
                .unwrap_or_default();
            let refused = check_condition(&app, "Degraded", "True", None).is_ok();
            ensure!(refused || listed == names, "status.platforms {listed:?}");
            Ok(())
        })
        .await?;
    }
    let before = settled_children(&client, &namespace).await?;
    let mut invalid = table::to_json(&case.document())?;
    invalid["metadata"]["namespace"] = json!(namespace);
    table::apply(&client, MANAGER, &invalid)
        .await
        .context("the API server refuses the App, which passes admission offline")?;

    let reason = match case.reason {
        Reason::InvalidSpec => "InvalidSpec",
        Reason::PolicyViolation => "PolicyViolation",
    };
    eventually("the operator reports the App", REACT, async || {
        let app = apps.get(APP).await?;
        let observed = app.status.as_ref().and_then(|s| s.observed_generation);
        ensure!(observed == app.metadata.generation, "not reconciled yet");
        check_condition(&app, "Degraded", "True", Some(reason))?;
        let message = &condition(&app, "Degraded").unwrap().message;
        for (field, fragment) in &expected {
            ensure!(
                message.contains(&format!("{field}: ")) && message.contains(fragment.as_str()),
                "the message does not name {field} with {fragment:?}: {message}"
            );
        }
        Ok(())
    })
    .await?;
    // Others write to the children too (the Deployment's status, the HPA its replicas), so what
    // must not change is what Baseplate wrote: its apply's time and fields.
    let after = children_in(&client, &namespace, APP).await?;
    for (child, meta) in &before {
        let now = after
            .get(child)
            .with_context(|| format!("{child} was deleted"))?;
        ensure!(
            written_by_the_operator(now) == written_by_the_operator(meta),
            "{child} changed while the App was invalid"
        );
    }
    Ok(())
}

/// The App's children once the operator has stopped writing them: it may write a child again
/// after its first reconcile (the replica count handed over to the HPA, say).
async fn settled_children(
    client: &kube::Client,
    namespace: &str,
) -> Result<BTreeMap<String, ObjectMeta>> {
    use table::cases::APP;
    let written = |found: &BTreeMap<String, ObjectMeta>| -> Vec<_> {
        found.values().map(written_by_the_operator).collect()
    };
    eventually(
        "the operator stops writing the children",
        REACT,
        async || {
            let first = children_in(client, namespace, APP).await?;
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            let second = children_in(client, namespace, APP).await?;
            ensure!(written(&first) == written(&second), "still being written");
            Ok(second)
        },
    )
    .await
}

/// The operator's last apply to a child: its time and fields. (Not the generation: the HPA
/// changes the Deployment's replicas.)
fn written_by_the_operator(meta: &ObjectMeta) -> (Option<String>, serde_json::Value) {
    let entry = meta.managed_fields.iter().flatten().find(|m| {
        m.manager.as_deref() == Some(OPERATOR) && m.operation.as_deref() == Some("Apply")
    });
    (
        entry
            .and_then(|m| m.time.as_ref())
            .map(|t| format!("{t:?}")),
        applied_fields(meta, OPERATOR),
    )
}
