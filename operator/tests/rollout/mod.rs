//! Staged Platform rollouts against the fake API server: a spec change creates its
//! ControllerRevision owned by the Platform and starts wave 1 in one status write; Apps moving
//! write no Platform status of their own; failures at the threshold pause the rollout in one
//! more write; Apps not yet due render from the previous revision's spec.

use baseplate_crd::platform::{PlatformStatus, RolloutPolicy};
use baseplate_crd::status::PlatformRevision;
use baseplate_crd::waves::{revision_name, spec_hash};
use baseplate_crd::{App, AppStatus, Platform, PlatformSpec};
use baseplate_operator::controller::platform_rollout::reconcile_platform;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::ResourceExt;

use crate::support::*;

const STATUS: &str = "/apis/baseplate.dev/v1alpha1/platforms/defaults/status";
const REVISIONS: &str = "/apis/apps/v1/namespaces/baseplate-system/controllerrevisions";

fn platform(pre_stop: i64, status: Option<PlatformStatus>) -> Platform {
    let mut platform = Platform::new(
        "defaults",
        PlatformSpec {
            rollout: Some(RolloutPolicy {
                waves: vec!["50%".into(), "100%".into()],
                pause_after_failed_apps: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    platform.spec.defaults.pre_stop_sleep_seconds = Some(pre_stop);
    platform.metadata.uid = Some("uid-defaults".into());
    platform.metadata.generation = Some(2);
    platform.status = status;
    platform
}

fn revision_of(platform: &Platform, number: i64) -> ControllerRevision {
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name("defaults", &spec_hash(&platform.spec))),
            namespace: Some("baseplate-system".into()),
            labels: Some([("baseplate.dev/platform".to_string(), "defaults".to_string())].into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "baseplate.dev/v1alpha1".into(),
                kind: "Platform".into(),
                name: "defaults".into(),
                uid: "uid-defaults".into(),
                controller: Some(true),
                ..Default::default()
            }]),
            ..Default::default()
        },
        data: Some(RawExtension(serde_json::to_value(&platform.spec).unwrap())),
        revision: number,
    }
}

fn condition(type_: &str, status: &str, reason: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: "m".into(),
        observed_generation: Some(1),
        last_transition_time: fixed_time(),
    }
}

/// An App in `shop` following `revision`, Ready or Degraded.
fn app_at(name: &str, revision: &str, degraded: bool) -> App {
    let mut app = app(&format!(
        "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {{name: {name}}}\nspec: {{image: nginx}}\n"
    ));
    app.status = Some(AppStatus {
        conditions: if degraded {
            vec![
                condition("Ready", "False", "PolicyViolation"),
                condition("Degraded", "True", "PolicyViolation"),
            ]
        } else {
            vec![
                condition("Ready", "True", "Available"),
                condition("Degraded", "False", "AsExpected"),
            ]
        },
        platform_revisions: vec![PlatformRevision {
            platform: "defaults".into(),
            revision: revision.into(),
            since: fixed_time(),
        }],
        ..Default::default()
    });
    app
}

fn written(calls: &[Call]) -> Vec<PlatformStatus> {
    calls
        .iter()
        .filter(|c| c.is("PATCH", STATUS))
        .map(|c| serde_json::from_value(c.body["status"].clone()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_spec_change_records_a_revision_and_starts_the_first_wave_in_one_write() {
    let old = platform(5, None);
    let old_name = revision_name("defaults", &spec_hash(&old.spec));
    let started = PlatformStatus {
        revision: Some(old_name.clone()),
        revision_number: Some(1),
        wave: Some(1),
        phase: Some("Complete".into()),
        observed_generation: Some(1),
        ..Default::default()
    };
    let edited = platform(15, Some(started));
    let new_name = revision_name("defaults", &spec_hash(&edited.spec));
    let apps: Vec<App> = (0..6)
        .map(|i| app_at(&format!("a{i}"), &old_name, false))
        .collect();
    let (api, client) = FakeApi::start(Cluster::default());
    let ctx = TestContext::new(client)
        .apps(apps)
        .platforms(vec![edited.clone()])
        .revisions(vec![revision_of(&old, 1)])
        .namespace("shop", Default::default())
        .build();

    reconcile_platform(&ctx, &edited).await.unwrap();
    let calls = api.take_calls();
    let created: Vec<&Call> = calls.iter().filter(|c| c.is("POST", REVISIONS)).collect();
    assert_eq!(created.len(), 1, "{calls:?}");
    let revision: ControllerRevision = serde_json::from_value(created[0].body.clone()).unwrap();
    assert_eq!(revision.name_any(), new_name);
    assert_eq!(revision.revision, 2);
    assert_eq!(revision.owner_references()[0].uid, "uid-defaults");
    assert_eq!(
        revision.data.unwrap().0["defaults"]["preStopSleepSeconds"],
        15
    );
    let statuses = written(&calls);
    assert_eq!(statuses.len(), 1, "one status write: {calls:?}");
    let status = &statuses[0];
    assert_eq!(status.revision.as_deref(), Some(new_name.as_str()));
    assert_eq!(status.revision_number, Some(2));
    assert_eq!(status.wave, Some(0));
    assert_eq!(status.phase.as_deref(), Some("Progressing"));
    assert_eq!(status.selected_apps, 6);
    assert_eq!(status.apps_at_newest_revision, 0);
    assert_eq!(status.conditions[0].type_, "RolledOut");
    assert_eq!(status.conditions[0].status, "False");
}

#[tokio::test]
async fn apps_moving_write_no_status_and_failures_at_the_threshold_pause_in_one_write() {
    let old = platform(5, None);
    let old_name = revision_name("defaults", &spec_hash(&old.spec));
    let edited = platform(15, None);
    let new_name = revision_name("defaults", &spec_hash(&edited.spec));
    let progressing = PlatformStatus {
        revision: Some(new_name.clone()),
        revision_number: Some(2),
        wave: Some(0),
        phase: Some("Progressing".into()),
        observed_generation: Some(2),
        ..Default::default()
    };
    let edited = platform(15, Some(progressing));
    let revisions = vec![revision_of(&old, 1), revision_of(&edited, 2)];
    let run = |apps: Vec<App>| {
        let (api, client) = FakeApi::start(Cluster::default());
        let ctx = TestContext::new(client)
            .apps(apps)
            .platforms(vec![edited.clone()])
            .revisions(revisions.clone())
            .namespace("shop", Default::default())
            .build();
        (api, ctx)
    };

    // One App moved (minReadySeconds 0: done), the others wait for it: nothing to write.
    let mut apps: Vec<App> = (0..6)
        .map(|i| app_at(&format!("a{i}"), &old_name, false))
        .collect();
    apps[0] = app_at("a0", &new_name, false);
    let (api, ctx) = run(apps.clone());
    reconcile_platform(&ctx, &edited).await.unwrap();
    let calls = api.take_calls();
    assert!(written(&calls).is_empty(), "{calls:?}");
    assert!(!calls.iter().any(|c| c.method != "GET"), "{calls:?}");

    // Two Apps failed under the new revision (pauseAfterFailedApps 2): one write, Paused.
    apps[0] = app_at("a0", &new_name, true);
    apps[1] = app_at("a1", &new_name, true);
    let (api, ctx) = run(apps);
    reconcile_platform(&ctx, &edited).await.unwrap();
    let statuses = written(&api.take_calls());
    assert_eq!(statuses.len(), 1);
    let status = &statuses[0];
    assert_eq!(status.phase.as_deref(), Some("Paused"));
    assert_eq!(status.failed_app_count, 2);
    assert_eq!(status.failed_apps[0].app, "shop/a0");
    assert_eq!(status.failed_apps[0].reason, "PolicyViolation");
    assert_eq!(status.wave, Some(0));
}
