//! Reconcile scenarios against a mock API server (kube-rs's tower-test pattern): every request
//! the reconciler makes is recorded with its method, URL and body, and answered the way the
//! API server would. The fake server, fixtures and the test `Context` are in `support/`.

mod batch;
mod rollout;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use baseplate_crd::{AppStatus, ChildKind};
use baseplate_operator::controller::apply::{CACHE_LAG_ALLOWANCE, CREATE_ONLY_VERSION};
use baseplate_operator::controller::reconcile::reconcile;
use k8s_openapi::api::core::v1::Secret;
use kube::core::{DeserializeGuard, PartialObjectMetaExt};
use kube::runtime::controller::Action;
use kube::runtime::reflector;
use kube::runtime::watcher;
use serde_json::json;
use support::*;

#[tokio::test]
async fn first_apply_of_the_reference_app_creates_all_seven_children_in_order() {
    let (result, calls) = Harness::new(app(REFERENCE)).run().await;
    assert!(result.is_ok(), "{result:?}");

    // Nothing is looked up first: each child is applied once, as a create that cannot take
    // over an existing object; Secret and ConfigMap before the workload, the workload before
    // what points at it.
    let child_calls: Vec<&Call> = calls
        .iter()
        .filter(|c| !c.path.ends_with("/status") && !c.path.ends_with("/events"))
        .collect();
    assert!(
        child_calls.iter().all(|c| c.method == "PATCH"),
        "{child_calls:#?}"
    );
    let paths = child_paths("my-application");
    let stage = |range: std::ops::Range<usize>| {
        let mut wanted: Vec<String> = paths[range].to_vec();
        wanted.sort();
        wanted
    };
    let mut applied: Vec<String> = child_calls.iter().map(|c| c.path.clone()).collect();
    assert_eq!(applied.len(), 7, "{applied:#?}");
    applied[0..2].sort();
    applied[3..7].sort();
    assert_eq!(applied[0..2], stage(0..2));
    assert_eq!(applied[2], paths[2]);
    assert_eq!(applied[3..7], stage(3..7));
    for call in &child_calls {
        assert_eq!(
            call.body["metadata"]["resourceVersion"], CREATE_ONLY_VERSION,
            "{}",
            call.path
        );
    }

    for call in calls
        .iter()
        .filter(|c| c.method == "PATCH" && !c.path.ends_with("/status"))
    {
        assert!(
            call.query.contains("fieldManager=baseplate"),
            "{}",
            call.query
        );
        assert!(call.query.contains("force=true"), "{}", call.query);
        let owner = &call.body["metadata"]["ownerReferences"][0];
        assert_eq!(owner["uid"], APP_UID, "{}", call.path);
        assert_eq!(owner["controller"], true);
        assert_eq!(
            call.body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "baseplate"
        );
    }
    let deployment = &calls
        .iter()
        .find(|c| c.is("PATCH", &child_paths("my-application")[2]))
        .unwrap()
        .body;
    assert!(
        deployment["spec"].get("replicas").is_none(),
        "the HPA owns replicas"
    );
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );

    let status = written_status(&calls, "my-application");
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.children.len(), 7);
    assert_eq!(
        status.url.as_deref(),
        Some("http://my-application.shop.apps.example.com/")
    );
    assert_eq!(condition(&status, "Ready").status, "False");
    assert_eq!(condition(&status, "Degraded").status, "False");
    let events = events(&calls);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "Created");
    assert!(events[0].1.contains("Deployment/my-application"));
}

#[tokio::test]
async fn a_second_reconcile_with_nothing_changed_writes_nothing() {
    // First run, to learn the status the reconciler would write.
    let (_, first) = Harness::new(app(REFERENCE)).run().await;
    let mut settled = app(REFERENCE);
    settled.status = Some(written_status(&first, "my-application"));

    let mut harness = Harness::new(settled);
    harness.children = Some(all_owned("my-application"));
    let (result, calls) = harness.run().await;
    assert!(result.is_ok(), "{result:?}");
    // Seven applies that change nothing (same resourceVersion back), no lookups, no status, no events.
    assert_eq!(calls.len(), 7, "{calls:#?}");
    assert!(
        calls
            .iter()
            .all(|c| c.method == "PATCH" && !c.path.ends_with("/status"))
    );
}

#[tokio::test]
async fn a_platform_default_reaches_the_deployment() {
    let mut harness = Harness::new(app(REFERENCE));
    harness.namespace_labels = BTreeMap::from([("team".into(), "payments".into())]);
    harness.platforms = vec![
        serde_saphyr::from_str(
            "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: payments}\nspec:\n  namespaceSelector: {matchLabels: {team: payments}}\n  defaults: {preStopSleepSeconds: 30}\n",
        )
        .unwrap(),
        serde_saphyr::from_str(
            "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: other-team}\nspec:\n  namespaceSelector: {matchLabels: {team: search}}\n  defaults: {preStopSleepSeconds: 99}\n",
        )
        .unwrap(),
    ];
    harness.children = Some(all_owned("my-application"));
    let (_, calls) = harness.run().await;
    let deployment = &calls
        .iter()
        .find(|c| c.is("PATCH", &child_paths("my-application")[2]))
        .unwrap()
        .body;
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"],
        30
    );
    assert_eq!(
        pod["terminationGracePeriodSeconds"], 50,
        "grace follows preStop + 20"
    );
    let status = written_status(&calls, "my-application");
    assert_eq!(status.platforms, vec!["payments".to_string()]);
}

#[tokio::test]
async fn a_disabled_ingress_is_pruned_and_nothing_else_is() {
    let yaml = format!("{REFERENCE}  ingress:\n    enabled: false\n");
    let mut harness = Harness::new(app(&yaml));
    harness.children = Some(all_owned("my-application"));
    let (_, calls) = harness.run().await;
    let deletes: Vec<&Call> = calls.iter().filter(|c| c.method == "DELETE").collect();
    assert_eq!(deletes.len(), 1, "{calls:#?}");
    assert_eq!(deletes[0].path, child_paths("my-application")[6]);
    // Deleted only if it is still the object found to be ours.
    assert_eq!(
        deletes[0].body["preconditions"]["uid"],
        "uid-Ingress-my-application"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.is("PATCH", &child_paths("my-application")[6]))
    );
    let status = written_status(&calls, "my-application");
    assert_eq!(status.children.len(), 6);
    assert_eq!(status.url, None);
    assert!(
        events(&calls)
            .iter()
            .any(|(reason, note)| reason == "Pruned" && note.contains("Ingress/my-application"))
    );
}

#[tokio::test]
async fn a_child_owned_by_someone_else_is_never_touched() {
    let mut harness = Harness::new(app(REFERENCE));
    let service = child_paths("my-application")[3].clone();
    // A Service of the same name that a person created: no owner reference to the App.
    harness.cluster.objects.insert(
        service.clone(),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "my-application", "namespace": "shop", "uid": "foreign", "resourceVersion": "7"}}),
    );
    let (result, calls) = harness.run().await;
    assert!(result.is_ok());
    // Created only if missing; refused, it is looked at and left alone.
    assert!(calls.iter().any(|c| c.is("GET", &service)));
    assert!(
        calls
            .iter()
            .filter(|c| c.path == service && c.method != "GET")
            .all(|c| c.method == "PATCH"
                && c.body["metadata"]["resourceVersion"] == CREATE_ONLY_VERSION),
        "the foreign Service was written to"
    );
    let status = written_status(&calls, "my-application");
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded.status, "True");
    assert_eq!(degraded.reason, "NameConflict");
    assert!(
        degraded.message.contains("Service/my-application"),
        "{}",
        degraded.message
    );
    assert!(
        events(&calls)
            .iter()
            .any(|(reason, _)| reason == "NameConflict")
    );
}

#[tokio::test]
async fn an_app_over_a_guardrail_leaves_running_children_alone() {
    let yaml = format!("{REFERENCE}  replicas: 50\n");
    let mut harness = Harness::new(app(&yaml));
    harness.platforms = vec![serde_saphyr::from_str(
        "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: guardrails}\nspec:\n  limits: {maxReplicas: 20}\n",
    )
    .unwrap()];
    harness.children = Some(all_owned("my-application"));
    let (result, calls) = harness.run().await;
    assert_eq!(
        result,
        Ok(Action::await_change()),
        "an invalid App is not retried hot"
    );
    let writes: Vec<&Call> = calls.iter().filter(|c| c.method != "POST").collect();
    assert_eq!(
        writes.len(),
        1,
        "only the status may be written: {writes:#?}"
    );
    let status = written_status(&calls, "my-application");
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded.reason, "PolicyViolation");
    assert!(
        degraded.message.contains("spec.replicas"),
        "{}",
        degraded.message
    );
    assert!(
        degraded.message.contains("platform/guardrails"),
        "{}",
        degraded.message
    );
    assert_eq!(condition(&status, "Ready").reason, "PolicyViolation");
}

#[tokio::test]
async fn a_missing_supplied_secret_is_reported_and_generated_values_are_kept() {
    let yaml =
        format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n    supplied: [API_TOKEN]\n");
    let mut harness = Harness::new(app(&yaml));
    let secret_path = child_paths("my-application")[1].clone();
    // The Secret exists with a value generated earlier; nobody has supplied API_TOKEN yet.
    let kept = Secret {
        metadata: owned_meta::<Secret>("my-application", "1").metadata,
        data: Some(BTreeMap::from([(
            "SESSION_KEY".to_string(),
            k8s_openapi::ByteString(b"kept-from-before".to_vec()),
        )])),
        ..Default::default()
    };
    harness
        .cluster
        .objects
        .insert(secret_path.clone(), serde_json::to_value(&kept).unwrap());
    harness.children = Some(all_owned("my-application"));
    let (_, calls) = harness.run().await;
    let applied = &calls
        .iter()
        .find(|c| c.is("PATCH", &secret_path))
        .unwrap()
        .body;
    // base64("kept-from-before"): the earlier value, not a new one.
    assert_eq!(applied["data"]["SESSION_KEY"], "a2VwdC1mcm9tLWJlZm9yZQ==");
    assert!(
        applied["data"].get("API_TOKEN").is_none(),
        "Baseplate never writes supplied keys"
    );
    let status = written_status(&calls, "my-application");
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded.reason, "WaitingForSecret");
    assert!(degraded.message.contains("API_TOKEN"));
    // No secret value anywhere in status or events.
    let everything = format!("{:?}{:?}", serde_json::to_string(&status), events(&calls));
    assert!(
        !everything.contains("kept-from-before") && !everything.contains("a2VwdC1mcm9tLWJlZm9yZQ")
    );
    assert!(
        !events(&calls)
            .iter()
            .any(|(reason, _)| reason.starts_with("Secret")),
        "nothing was generated"
    );
}

#[tokio::test]
async fn a_deleted_secret_is_regenerated_and_reported() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let mut previous = app(&yaml);
    previous.status = Some(AppStatus {
        children: vec!["Secret/my-application".into()],
        ..Default::default()
    });
    let (_, calls) = Harness::new(previous).run().await;
    let applied = &calls
        .iter()
        .find(|c| c.is("PATCH", &child_paths("my-application")[1]))
        .unwrap()
        .body;
    assert_eq!(
        applied["data"]["SESSION_KEY"],
        "Z2VuZXJhdGVkLXZhbHVlLTAxMjM0NTY3ODlhYmNkZWY="
    );
    let events = events(&calls);
    let regenerated = events
        .iter()
        .find(|(reason, _)| reason == "SecretRegenerated")
        .expect("reported");
    assert!(regenerated.1.contains("SESSION_KEY") && !regenerated.1.contains("generated-value"));
}

#[tokio::test]
async fn a_reconcile_with_nothing_changed_since_the_last_one_makes_no_request() {
    let calls = second_reconcile(|_, _| {}).await;
    assert!(calls.is_empty(), "{calls:#?}");
}

#[tokio::test]
async fn a_reconcile_before_the_watch_shows_the_last_applies_waits_instead_of_repeating_them() {
    let (action, calls) = two_reconciles(REFERENCE, false, Duration::ZERO, |_, _| {}).await;
    assert!(calls.is_empty(), "{calls:#?}");
    assert_eq!(action, Action::requeue(CACHE_LAG_ALLOWANCE));
}

#[tokio::test]
async fn the_secret_is_read_once_and_then_known_from_the_cache() {
    let yaml =
        format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n    supplied: [API_TOKEN]\n");
    let (_, calls) = two_reconciles(&yaml, true, Duration::ZERO, |_, _| {}).await;
    assert!(calls.is_empty(), "{calls:#?}");
}

#[tokio::test]
async fn a_secret_changed_by_someone_is_read_again() {
    let yaml = format!("{REFERENCE}  secrets:\n    supplied: [API_TOKEN]\n");
    let secret_path = child_paths("my-application")[1].clone();
    let (_, calls) = two_reconciles(&yaml, true, Duration::ZERO, |watches, cluster| {
        // Someone supplies API_TOKEN: the Secret moves to version 2.
        let mut supplied = Secret {
            metadata: owned_meta::<Secret>("my-application", "2").metadata,
            data: Some(BTreeMap::from([(
                "API_TOKEN".to_string(),
                k8s_openapi::ByteString(b"token".to_vec()),
            )])),
            ..Default::default()
        };
        cluster.objects.insert(
            secret_path.clone(),
            serde_json::to_value(&supplied).unwrap(),
        );
        supplied.data = None;
        watches.secrets.apply_watcher_event(&watcher::Event::Apply(
            supplied.metadata.into_response_partial(),
        ));
    })
    .await;
    assert!(
        calls.iter().any(|c| c.is("GET", &secret_path)),
        "{calls:#?}"
    );
    // The value now exists: the App no longer waits for it.
    let status = written_status(&calls, "my-application");
    assert_ne!(condition(&status, "Degraded").reason, "WaitingForSecret");
}

#[tokio::test]
async fn a_new_app_with_generated_secrets_is_told_in_one_event() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let (result, calls) = Harness::new(app(&yaml)).run().await;
    assert!(result.is_ok(), "{result:?}");
    let events = events(&calls);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "Created");
    assert!(
        events[0].1.contains("Secret/my-application")
            && events[0]
                .1
                .contains("generated values for secret keys SESSION_KEY"),
        "{}",
        events[0].1
    );
    assert!(!events[0].1.contains(&fixed_secret()));
}

#[tokio::test]
async fn a_secret_the_cache_does_not_show_is_found_by_the_create_and_its_values_kept() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let mut harness = Harness::new(app(&yaml));
    let secret_path = child_paths("my-application")[1].clone();
    harness.cluster.objects.insert(
        secret_path.clone(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-application", "namespace": "shop", "resourceVersion": "4", "ownerReferences": [{"apiVersion": "baseplate.dev/v1alpha1", "kind": "App", "name": "my-application", "uid": APP_UID, "controller": true}]}, "data": {"SESSION_KEY": "b2xk"}}),
    );
    let (result, calls) = harness.run().await;
    assert!(result.is_ok(), "{result:?}");
    let secret_calls: Vec<&Call> = calls.iter().filter(|c| c.path == secret_path).collect();
    // Created blind with fresh values: refused. Read, then applied with the value it had.
    let last = secret_calls.last().unwrap();
    assert_eq!(last.method, "PATCH");
    assert_eq!(
        last.body["data"]["SESSION_KEY"], "b2xk",
        "{secret_calls:#?}"
    );
    assert!(secret_calls.iter().any(|c| c.method == "GET"));
    assert!(
        !events(&calls).iter().any(|(r, _)| r.starts_with("Secret")),
        "nothing was generated"
    );
}

#[tokio::test]
async fn a_foreign_secret_the_cache_does_not_show_blocks_the_app() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let mut harness = Harness::new(app(&yaml));
    let secret_path = child_paths("my-application")[1].clone();
    harness.cluster.objects.insert(
        secret_path.clone(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-application", "namespace": "shop", "resourceVersion": "4"}, "data": {"SESSION_KEY": "b2xk"}}),
    );
    let (result, calls) = harness.run().await;
    assert_eq!(result, Ok(Action::requeue(Duration::from_secs(30))));
    assert!(
        calls
            .iter()
            .filter(|c| c.is("PATCH", &secret_path))
            .all(|c| c.body["metadata"]["resourceVersion"] == CREATE_ONLY_VERSION),
        "the foreign Secret was written to"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.path == child_paths("my-application")[2])
    );
    let status = written_status(&calls, "my-application");
    assert_eq!(condition(&status, "Degraded").reason, "NameConflict");
}

#[tokio::test]
async fn fresh_values_never_overwrite_a_secret_that_appeared_unseen() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let mut harness = Harness::new(app(&yaml));
    let secret_path = child_paths("my-application")[1].clone();
    // Created between the read (which found nothing) and the apply.
    harness.cluster.unseen_by_reads.push(secret_path.clone());
    harness.cluster.objects.insert(
        secret_path.clone(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-application", "namespace": "shop", "resourceVersion": "4", "ownerReferences": [{"apiVersion": "baseplate.dev/v1alpha1", "kind": "App", "name": "my-application", "uid": APP_UID, "controller": true}]}, "data": {"SESSION_KEY": "b2xk"}}),
    );
    let (result, calls) = harness.run().await;
    assert!(result.is_err(), "retried: {result:?}");
    let secret_writes: Vec<&Call> = calls
        .iter()
        .filter(|c| c.is("PATCH", &secret_path))
        .collect();
    assert!(
        secret_writes
            .iter()
            .all(|c| c.body["metadata"]["resourceVersion"] == CREATE_ONLY_VERSION),
        "{secret_writes:#?}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.path == child_paths("my-application")[2]),
        "the workload must not roll to values never stored"
    );
}

#[tokio::test]
async fn a_status_only_change_of_a_child_costs_no_write() {
    // The Deployment controller updates the status: new resourceVersion, same generation.
    let calls = second_reconcile(|watches, _| {
        let event = edited_deployment(watches, |d| {
            d.metadata.resource_version = Some("2".into());
            d.status = Some(k8s_openapi::api::apps::v1::DeploymentStatus {
                observed_generation: Some(1),
                replicas: Some(1),
                updated_replicas: Some(1),
                ..Default::default()
            });
        });
        watches.deployments.apply_watcher_event(&event);
    })
    .await;
    let writes: Vec<&Call> = calls
        .iter()
        .filter(|c| !c.path.ends_with("/status") && c.method != "POST")
        .collect();
    assert!(writes.is_empty(), "{writes:#?}");
    // The App's status follows the rollout from the cache.
    let status = written_status(&calls, "my-application");
    assert_eq!(status.updated_replicas, Some(1));
}

#[tokio::test]
async fn what_other_controllers_write_on_children_costs_no_write() {
    let calls = second_reconcile(|watches, _| {
        // The autoscaler's controller updates its status (no generation on this kind) ...
        let mut hpa = cached_autoscaler(watches);
        hpa.metadata.resource_version = Some("2".into());
        watches
            .horizontal_pod_autoscalers
            .apply_watcher_event(&watcher::Event::Apply(hpa));
        // ... and the Deployment controller records its revision in an annotation.
        let event = edited_deployment(watches, |d| {
            d.metadata.resource_version = Some("2".into());
            d.metadata
                .annotations
                .get_or_insert_default()
                .insert("deployment.kubernetes.io/revision".into(), "1".into());
        });
        watches.deployments.apply_watcher_event(&event);
    })
    .await;
    assert!(calls.is_empty(), "{calls:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_hand_edit_of_an_autoscaler_is_put_back() {
    // Edited later than the watch could lag: maxReplicas left Baseplate's managed fields.
    let (_, calls) = two_reconciles(REFERENCE, true, CACHE_LAG_ALLOWANCE, |watches, _| {
        let mut hpa = cached_autoscaler(watches);
        hpa.metadata.resource_version = Some("2".into());
        taken_over(&mut hpa.metadata, &["f:spec", "f:maxReplicas"]);
        watches
            .horizontal_pod_autoscalers
            .apply_watcher_event(&watcher::Event::Apply(hpa));
    })
    .await;
    let hpa = child_paths("my-application")[4].clone();
    assert!(calls.iter().any(|c| c.is("PATCH", &hpa)), "{calls:#?}");
}

#[tokio::test]
async fn an_autoscaler_changing_the_replicas_costs_no_deployment_apply() {
    // The HPA scales through the scale subresource: a new generation and spec.replicas, owned
    // by the controller manager. Baseplate does not set replicas under an HPA.
    let calls = second_reconcile(|watches, _| {
        let event = edited_deployment(watches, |d| {
            d.metadata.resource_version = Some("2".into());
            d.metadata.generation = Some(2);
            d.spec.get_or_insert_default().replicas = Some(7);
            d.metadata.managed_fields.get_or_insert_default().push(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry {
                    manager: Some("kube-controller-manager".into()),
                    operation: Some("Update".into()),
                    subresource: Some("scale".into()),
                    fields_v1: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1(
                        json!({"f:spec": {"f:replicas": {}}}),
                    )),
                    ..Default::default()
                },
            );
        });
        watches.deployments.apply_watcher_event(&event);
    })
    .await;
    let writes: Vec<&Call> = calls
        .iter()
        .filter(|c| c.method == "PATCH" && !c.path.ends_with("/status"))
        .collect();
    assert!(writes.is_empty(), "{writes:#?}");
}

/// The first reconcile's applies as the caches of a newly started operator would hold them,
/// after `between` changed them; then one reconcile of the converged App by that operator
/// (no memory of the applies). Returns its requests.
async fn reconcile_after_restart(yaml: &str, between: impl FnOnce(&mut Watches)) -> Vec<Call> {
    let (api, client) = FakeApi::start(Cluster::default());
    let mut settled = app(yaml);
    let first = {
        let ctx = Arc::new(TestContext::new(client.clone()).build());
        reconcile(Arc::new(DeserializeGuard(Ok(settled.clone()))), ctx.clone())
            .await
            .unwrap();
        ctx.events.flushed().await;
        api.take_calls()
    };
    settled.status = Some(written_status(&first, "my-application"));
    let (children, mut watches) = watched_caches();
    {
        let mut cluster = api.cluster.lock().unwrap();
        watches.observe(&first, &cluster);
        let secret = child_paths("my-application")[1].clone();
        if let Some(applied) = first.iter().find(|c| c.is("PATCH", &secret)) {
            let stored = answer_apply(&secret, applied.body.clone(), &cluster);
            cluster.objects.insert(secret, stored);
        }
    }
    between(&mut watches);
    let restarted = Arc::new(TestContext::new(client).children(children).build());
    reconcile(Arc::new(DeserializeGuard(Ok(settled))), restarted.clone())
        .await
        .unwrap();
    restarted.events.flushed().await;
    drop(restarted);
    api.finish().await
}

#[tokio::test]
async fn an_app_deleted_mid_reconcile_ends_it_quietly() {
    // The App is gone by the time its status is written (the children go with it).
    let mut harness = Harness::new(app(REFERENCE));
    harness.cluster.deleted.push(status_path("my-application"));
    let (result, calls) = harness.run().await;
    assert_eq!(result, Ok(Action::await_change()), "no error, no retry");
    assert!(
        calls
            .iter()
            .any(|c| c.is("PATCH", &status_path("my-application"))),
        "{calls:#?}"
    );
    let events = events(&calls);
    assert!(
        events.is_empty(),
        "nothing told of a deleted App: {events:?}"
    );
}

#[tokio::test]
async fn a_restarted_operator_over_children_as_it_applied_them_sends_nothing() {
    let calls = reconcile_after_restart(REFERENCE, |_| {}).await;
    assert!(calls.is_empty(), "{calls:#?}");
}

#[tokio::test]
async fn a_restarted_operator_knows_every_apps_secret_from_one_list() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let calls = reconcile_after_restart(&yaml, |_| {}).await;
    let requests: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.method.as_str(), c.path.as_str()))
        .collect();
    assert_eq!(requests, [("GET", "/api/v1/secrets")], "{calls:#?}");
    assert!(
        calls[0].query.contains("labelSelector"),
        "{}",
        calls[0].query
    );
}

#[tokio::test]
async fn a_restarted_operator_puts_back_exactly_the_child_edited_while_it_was_away() {
    let calls = reconcile_after_restart(REFERENCE, |watches| {
        let event = edited_deployment(watches, |d| {
            d.metadata.resource_version = Some("2".into());
            d.metadata.generation = Some(2);
            taken_over(&mut d.metadata, &["f:spec", "f:minReadySeconds"]);
        });
        watches.deployments.apply_watcher_event(&event);
    })
    .await;
    let patches: Vec<&Call> = calls
        .iter()
        .filter(|c| c.method == "PATCH" && !c.path.ends_with("/status"))
        .collect();
    assert_eq!(patches.len(), 1, "{patches:#?}");
    assert_eq!(patches[0].path, child_paths("my-application")[2]);
    assert_eq!(
        patches[0].body["metadata"]["annotations"]["baseplate.dev/applied-digest"]
            .as_str()
            .map(str::len),
        Some(16),
        "the apply carries the digest"
    );
}

#[tokio::test]
async fn a_restarted_operator_applies_what_an_older_baseplate_made_without_a_digest() {
    let calls = reconcile_after_restart(REFERENCE, |watches| {
        let event = edited_deployment(watches, |d| {
            d.metadata
                .annotations
                .as_mut()
                .unwrap()
                .remove("baseplate.dev/applied-digest");
        });
        watches.deployments.apply_watcher_event(&event);
    })
    .await;
    let patches: Vec<&Call> = calls
        .iter()
        .filter(|c| c.method == "PATCH" && !c.path.ends_with("/status"))
        .collect();
    assert_eq!(patches.len(), 1, "{patches:#?}");
    assert_eq!(patches[0].path, child_paths("my-application")[2]);
}

#[tokio::test]
async fn a_hand_edit_is_put_back_and_reported_as_drift() {
    // Someone edits the Deployment (version 2 reaches the cache); the apply restores it (version 3).
    let deployment = child_paths("my-application")[2].clone();
    let calls = second_reconcile(|watches, cluster| {
        let event = edited_deployment(watches, |d| {
            d.metadata.resource_version = Some("2".into());
            d.metadata.generation = Some(2);
            taken_over(&mut d.metadata, &["f:spec", "f:minReadySeconds"]);
        });
        watches.deployments.apply_watcher_event(&event);
        cluster
            .applied_versions
            .insert(deployment.clone(), "3".into());
    })
    .await;
    let patches: Vec<&Call> = calls
        .iter()
        .filter(|c| c.method == "PATCH" && !c.path.ends_with("/status"))
        .collect();
    assert_eq!(
        patches.len(),
        1,
        "only the edited child is applied: {patches:#?}"
    );
    let events = events(&calls);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "DriftCorrected");
    assert!(events[0].1.contains("Deployment/my-application"));
    // Names the child too, so drift on another child later is its own event, not a repeat.
    let posted = calls
        .iter()
        .find(|c| c.method == "POST" && c.body["reason"] == "DriftCorrected")
        .unwrap();
    assert_eq!(posted.body["related"]["kind"], "Deployment");
}

#[tokio::test]
async fn switching_to_autoscaling_hands_the_replica_count_over_first() {
    // The App ran with `replicas: 5` (a Deployment, no HPA) and now drops it for autoscaling.
    let mut harness = Harness::new(app(REFERENCE));
    let mut children = all_owned("my-application");
    children.horizontal_pod_autoscalers = store_of(vec![]);
    children.deployments = store_of(vec![owned_deployment("my-application", "1", Some(5))]);
    harness.children = Some(children);
    let deployment = child_paths("my-application")[2].clone();
    let (result, calls) = harness.run().await;
    assert!(result.is_ok(), "{result:?}");
    let writes: Vec<&Call> = calls.iter().filter(|c| c.path == deployment).collect();
    assert_eq!(writes.len(), 2, "{writes:#?}");
    assert_eq!(writes[0].method, "PATCH");
    assert!(
        writes[0]
            .query
            .contains("fieldManager=baseplate-replicas-handover")
    );
    assert_eq!(writes[0].body["spec"], json!({"replicas": 5}));
    assert!(
        writes[1]
            .query
            .split('&')
            .any(|p| p == "fieldManager=baseplate"),
        "{}",
        writes[1].query
    );
    assert!(writes[1].body["spec"].get("replicas").is_none());
}

#[tokio::test]
async fn an_autoscaler_just_created_but_not_yet_cached_needs_no_handover() {
    // The API server defaults spec.replicas to 1 on the new Deployment, which the cache shows
    // before the new autoscaler.
    let (_, calls) = two_reconciles(REFERENCE, true, Duration::ZERO, |watches, _| {
        let hpa = cached_autoscaler(watches);
        watches
            .horizontal_pod_autoscalers
            .apply_watcher_event(&watcher::Event::Delete(hpa));
        let event = edited_deployment(watches, |d| {
            d.spec.get_or_insert_default().replicas = Some(1);
        });
        watches.deployments.apply_watcher_event(&event);
    })
    .await;
    assert!(
        !calls.iter().any(|c| c.query.contains("handover")),
        "{calls:#?}"
    );
}

#[tokio::test]
async fn an_app_with_an_autoscaler_already_needs_no_handover() {
    let mut harness = Harness::new(app(REFERENCE));
    harness.children = Some(all_owned("my-application"));
    let (_, calls) = harness.run().await;
    assert!(!calls.iter().any(|c| c.query.contains("handover")));
}

#[tokio::test]
async fn a_secret_someone_else_made_blocks_the_app_without_rolling_pods() {
    let yaml =
        format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n    supplied: [API_KEY]\n");
    let mut harness = Harness::new(app(&yaml));
    harness.children = Some(all_owned("my-application"));
    let secret_path = child_paths("my-application")[1].clone();
    // Created by hand before the App: no owner reference.
    harness.cluster.objects.insert(
        secret_path.clone(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-application", "namespace": "shop"}, "data": {"API_KEY": "eA=="}}),
    );
    let (result, calls) = harness.run().await;
    assert_eq!(
        result,
        Ok(Action::requeue(Duration::from_secs(30))),
        "checked again soon: its deletion is not watched"
    );
    let writes: Vec<&Call> = calls
        .iter()
        .filter(|c| c.method != "GET" && c.method != "POST")
        .collect();
    assert_eq!(writes.len(), 1, "only the status: {writes:#?}");
    let status = written_status(&calls, "my-application");
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded.reason, "NameConflict");
    assert!(
        degraded.message.contains("Secret/my-application"),
        "{}",
        degraded.message
    );
    assert!(
        !events(&calls)
            .iter()
            .any(|(reason, _)| reason.starts_with("Secret")),
        "nothing was generated"
    );
}

#[tokio::test]
async fn what_is_remembered_of_deleted_apps_is_dropped() {
    let (_api, client) = FakeApi::start(Cluster::default());
    let ctx = TestContext::new(client).build();
    let remembered = |app: &str| baseplate_operator::controller::context::AppliedChild {
        app: app.into(),
        desired_digest: 1,
        resource_version: None,
        generation: None,
        applied_at: tokio::time::Instant::now(),
        seen: true,
    };
    let secret = baseplate_operator::controller::context::RememberedSecret {
        resource_version: Some("1".into()),
        values: Default::default(),
        read_at: tokio::time::Instant::now(),
    };
    {
        let mut memory = ctx.memory.lock().unwrap();
        memory
            .applied
            .insert(ChildKind::Deployment.of("shop", "kept"), remembered("kept"));
        memory
            .applied
            .insert(ChildKind::Deployment.of("shop", "gone"), remembered("gone"));
        memory.applied.insert(
            ChildKind::Deployment.of("other", "kept"),
            remembered("kept"),
        );
        // Children with names of their own are remembered by their App's name.
        let job = |name: &str| baseplate_crd::ChildRef {
            kind: ChildKind::Job,
            namespace: "shop".into(),
            name: name.into(),
        };
        memory
            .applied
            .insert(job("kept-migrate-0123456789"), remembered("kept"));
        memory
            .applied
            .insert(job("gone-migrate-0123456789"), remembered("gone"));
        memory
            .secrets
            .insert(ChildKind::Secret.of("shop", "gone"), secret.clone());
        memory
            .secrets
            .insert(ChildKind::Secret.of("shop", "kept"), secret);
        let mut failures = ctx.failures.lock().unwrap();
        failures.insert(reflector::ObjectRef::new("gone").within("shop"), 3);
        failures.insert(reflector::ObjectRef::new("kept").within("shop"), 1);
    }
    let mut kept = app(REFERENCE);
    kept.metadata.name = Some("kept".into());
    ctx.forget_apps_except(&[Arc::new(DeserializeGuard(Ok(kept)))]);
    let memory = ctx.memory.lock().unwrap();
    let mut kept: Vec<String> = memory.applied.keys().map(|c| c.to_string()).collect();
    kept.sort();
    assert_eq!(kept, ["Deployment/kept", "Job/kept-migrate-0123456789"]);
    assert_eq!(
        memory.secrets.keys().collect::<Vec<_>>(),
        vec![&ChildKind::Secret.of("shop", "kept")]
    );
    let failures = ctx.failures.lock().unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures.keys().all(|k| k.name == "kept"));
}

/// The reference App settled on one reconciler, its Deployment rolling from ReplicaSet 1
/// (two pods serving) to ReplicaSet 2, whose two pods are in `new_pods`' state. Each
/// `reconcile` runs with the status the last one wrote and returns its requests, events
/// flushed.
struct StalledRollout {
    api: FakeApi,
    ctx: Arc<baseplate_operator::controller::context::Context>,
    watches: Watches,
    pods: PodWatches,
    app: baseplate_crd::App,
}

impl StalledRollout {
    async fn start(new_pods: &str) -> Self {
        let (api, client) = FakeApi::start(Cluster::default());
        let (children, mut watches) = watched_caches();
        let (workload, mut pods) = watched_workload();
        let ctx = Arc::new(
            TestContext::new(client)
                .children(children)
                .workload(workload)
                .build(),
        );
        let mut app = app(REFERENCE);
        reconcile(Arc::new(DeserializeGuard(Ok(app.clone()))), ctx.clone())
            .await
            .unwrap();
        ctx.events.flushed().await;
        let first = api.take_calls();
        app.status = Some(written_status(&first, "my-application"));
        watches.observe(&first, &api.cluster.lock().unwrap());
        // The Deployment controller made ReplicaSet 2 for the new template; 2 of 2 replicas
        // are available, all of them old.
        let event = edited_deployment(&watches, |d| {
            d.metadata.resource_version = Some("2".into());
            d.metadata
                .annotations
                .get_or_insert_default()
                .insert("deployment.kubernetes.io/revision".into(), "2".into());
            d.spec.get_or_insert_default().replicas = Some(2);
            d.status = Some(serde_json::from_value(json!({"observedGeneration": 1, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2})).unwrap());
        });
        watches.deployments.apply_watcher_event(&event);
        pods.replica_set(1);
        pods.replica_set(2);
        pods.pod("my-application-rs1-a", 1, SERVING);
        pods.pod("my-application-rs1-b", 1, SERVING);
        let mut rollout = Self {
            api,
            ctx,
            watches,
            pods,
            app,
        };
        rollout.new_pods(new_pods);
        rollout
    }

    fn new_pods(&mut self, status: &str) {
        self.pods.pod("my-application-rs2-a", 2, status);
        self.pods.pod("my-application-rs2-b", 2, status);
    }

    async fn reconcile(&mut self) -> (Action, Vec<Call>) {
        let action = reconcile(
            Arc::new(DeserializeGuard(Ok(self.app.clone()))),
            self.ctx.clone(),
        )
        .await
        .unwrap();
        self.ctx.events.flushed().await;
        let calls = self.api.take_calls();
        if calls
            .iter()
            .any(|c| c.is("PATCH", &status_path("my-application")))
        {
            self.app.status = Some(written_status(&calls, "my-application"));
        }
        (action, calls)
    }
}

/// The calls that write: everything but event posts.
fn writes(calls: &[Call]) -> Vec<&Call> {
    calls.iter().filter(|c| c.method != "POST").collect()
}

#[tokio::test]
async fn a_new_version_that_cannot_pull_its_image_is_explained_once_while_old_pods_serve() {
    let mut rollout = StalledRollout::start(ERR_IMAGE_PULL).await;
    let (_, calls) = rollout.reconcile().await;
    let writes = writes(&calls);
    assert_eq!(writes.len(), 1, "only the status: {writes:#?}");
    let status = written_status(&calls, "my-application");
    let ready = condition(&status, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "ImagePullFailed")
    );
    assert!(
        ready.message.starts_with(
            "2/2 old pods serving; new version not starting: container app cannot pull image nginx:1.14"
        ),
        "{}",
        ready.message
    );
    assert!(
        ready.message.contains("does not exist: check spec.image"),
        "{}",
        ready.message
    );
    assert_eq!(condition(&status, "Degraded").reason, "ImagePullFailed");
    assert_eq!(status.ready_replicas, Some(2));
    let told = events(&calls);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, "ImagePullFailed");
    assert!(
        told[0].1.contains("cannot pull image nginx:1.14"),
        "{}",
        told[0].1
    );

    // The kubelet retries: back-off, pull error, back-off. Nothing is written or told again.
    let back_off = image_pull_back_off();
    assert!(back_off.contains("reason: ImagePullBackOff"));
    for state in [&back_off, ERR_IMAGE_PULL, &back_off] {
        rollout.new_pods(state);
        let (_, calls) = rollout.reconcile().await;
        assert!(calls.is_empty(), "{calls:#?}");
    }
}

#[tokio::test]
async fn each_new_cause_is_one_status_write_and_one_event_and_the_cause_clears() {
    let mut rollout = StalledRollout::start(ERR_IMAGE_PULL).await;
    let (_, first) = rollout.reconcile().await;
    assert_eq!(events(&first).len(), 1);

    // The image is fixed but the process crashes: a new cause.
    rollout.new_pods(&crash_loop(1));
    let (_, calls) = rollout.reconcile().await;
    assert_eq!(writes(&calls).len(), 1, "{calls:#?}");
    let status = written_status(&calls, "my-application");
    let ready = condition(&status, "Ready");
    assert_eq!(ready.reason, "CrashLooping");
    assert!(ready.message.contains("container app exits with code 1 and keeps restarting; its last words: DATABASE_URL is not set"), "{}", ready.message);
    let told = events(&calls);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, "CrashLooping");
    // Restart after restart, with longer back-offs: silence.
    for restarts in 2..6 {
        rollout.new_pods(&crash_loop(restarts));
        let (_, calls) = rollout.reconcile().await;
        assert!(calls.is_empty(), "restart {restarts}: {calls:#?}");
    }

    // Fixed: the new pods serve, the Deployment completes, and the cause is gone.
    rollout.new_pods(SERVING);
    let event = edited_deployment(&rollout.watches, |d| {
        d.metadata.resource_version = Some("3".into());
        d.status = Some(serde_json::from_value(json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2})).unwrap());
    });
    rollout.watches.deployments.apply_watcher_event(&event);
    let (_, calls) = rollout.reconcile().await;
    let status = written_status(&calls, "my-application");
    assert_eq!(condition(&status, "Ready").status, "True");
    assert_eq!(condition(&status, "Degraded").status, "False");
    assert!(events(&calls).is_empty(), "{:?}", events(&calls));
    let (_, calls) = rollout.reconcile().await;
    assert!(calls.is_empty(), "quiet once settled: {calls:#?}");
}

#[tokio::test]
async fn a_new_pod_still_within_its_readiness_allowance_is_looked_at_again_when_it_runs_out() {
    // Started 10 s before the fixed clock; the probe allows 10 s × 3.
    let starting = r#"
  phase: Running
  containerStatuses:
    - {name: app, image: nginx:1.14, imageID: "docker.io/library/nginx@sha256:1", ready: false, restartCount: 0, started: true, state: {running: {startedAt: '2027-01-15T07:59:50Z'}}}
"#;
    let mut rollout = StalledRollout::start(starting).await;
    let (action, calls) = rollout.reconcile().await;
    assert_eq!(action, Action::requeue(Duration::from_secs(21)));
    let status = written_status(&calls, "my-application");
    assert_eq!(condition(&status, "Ready").reason, "RolloutInProgress");
    // Long past it, the probe has had its chance.
    rollout.new_pods(&starting.replace("07:59:50", "07:00:00"));
    let (_, calls) = rollout.reconcile().await;
    let status = written_status(&calls, "my-application");
    assert_eq!(condition(&status, "Ready").reason, "NotReady");
    assert_eq!(events(&calls)[0].0, "NotReady");
}
