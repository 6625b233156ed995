//! The migration gate and the CronJobs against the fake API server: a new App waits for its
//! first migration, a new version keeps the old pod template until its migration succeeded, a
//! failure keeps the old version and says why, a restart or resync runs nothing again, old
//! Jobs are pruned down to the history limit, and removed cron entries are pruned.

use std::sync::Arc;

use baseplate_crd::{App, AppStatus, EffectivePlatform, SecretState};
use baseplate_operator::controller::apply::CREATE_ONLY_VERSION;
use baseplate_operator::controller::context::Context;
use baseplate_operator::controller::reconcile::reconcile;
use k8s_openapi::api::batch::v1::{CronJob, Job, JobCondition, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::watcher;
use serde_json::json;

use crate::support::*;

const APP_NAME: &str = "my-application";

fn with_migration(extra: &str) -> App {
    app(&format!(
        "{REFERENCE}  migrate:\n    command: [bin/migrate]\n{extra}"
    ))
}

fn with_image(image: &str) -> App {
    let mut app = with_migration("");
    app.spec.image = image.into();
    app
}

/// The name of the migration Job the App's current version gets.
fn job_name(app: &App) -> String {
    let children = baseplate_crd::render(
        app,
        &EffectivePlatform::builtin_only(),
        &SecretState::default(),
    )
    .unwrap();
    children.migration_job.unwrap().metadata.name.unwrap()
}

fn job_path(name: &str) -> String {
    format!("/apis/batch/v1{NS}/jobs/{name}")
}

fn cron_path(name: &str) -> String {
    format!("/apis/batch/v1{NS}/cronjobs/{name}")
}

fn at(second: i64) -> Time {
    Time(jiff::Timestamp::from_second(second).unwrap())
}

/// A migration Job of the App's, as the Job cache holds it, finished as `condition` says
/// (`None`: still running).
fn owned_job(name: &str, created: i64, condition: Option<&str>) -> Job {
    let mut metadata = owned_meta::<Job>(name, "1").metadata;
    metadata
        .labels
        .get_or_insert_default()
        .insert("baseplate.dev/app".into(), APP_NAME.into());
    metadata.creation_timestamp = Some(at(created));
    metadata.generation = Some(1);
    Job {
        metadata,
        spec: None,
        status: Some(JobStatus {
            conditions: condition.map(|type_| {
                vec![JobCondition {
                    type_: type_.into(),
                    status: "True".into(),
                    reason: (type_ == "Failed").then(|| "BackoffLimitExceeded".into()),
                    message: (type_ == "Failed")
                        .then(|| "Job has reached the specified backoff limit".into()),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
    }
}

fn owned_cron_job(name: &str) -> CronJob {
    let mut metadata = owned_meta::<CronJob>(name, "1").metadata;
    metadata
        .labels
        .get_or_insert_default()
        .insert("baseplate.dev/app".into(), APP_NAME.into());
    metadata.generation = Some(1);
    CronJob {
        metadata,
        ..Default::default()
    }
}

/// One reconciler run after run, its caches fed what it applied, as the watches would.
struct Flow {
    api: FakeApi,
    ctx: Arc<Context>,
    watches: Watches,
    status: Option<AppStatus>,
}

impl Flow {
    fn start(cluster: Cluster) -> Self {
        let (api, client) = FakeApi::start(cluster);
        let (children, watches) = watched_caches();
        let ctx = Arc::new(TestContext::new(client).children(children).build());
        Self {
            api,
            ctx,
            watches,
            status: None,
        }
    }

    /// One reconcile of `app` (with the status the last one wrote); returns its requests.
    async fn reconcile(&mut self, app: &App) -> (Action, Vec<Call>) {
        let mut app = app.clone();
        app.status = self.status.clone();
        let action = reconcile(Arc::new(DeserializeGuard(Ok(app))), self.ctx.clone())
            .await
            .unwrap();
        self.ctx.events.flushed().await;
        let calls = self.api.take_calls();
        if calls.iter().any(|c| c.is("PATCH", &status_path(APP_NAME))) {
            self.status = Some(written_status(&calls, APP_NAME));
        }
        self.watches
            .observe(&calls, &self.api.cluster.lock().unwrap());
        (action, calls)
    }

    /// The Job controller reports `name` as finished.
    fn finish_job(&mut self, name: &str, condition: &str) {
        let mut job = self
            .watches
            .jobs
            .as_reader()
            .get(&kube::runtime::reflector::ObjectRef::new(name).within("shop"))
            .expect("the Job is cached")
            .as_ref()
            .clone();
        job.status = owned_job(name, 0, Some(condition)).status;
        self.watches
            .jobs
            .apply_watcher_event(&watcher::Event::Apply(job));
    }

    async fn finish(self) {
        drop(self.ctx);
        self.api.finish().await;
    }
}

fn applied(calls: &[Call], path: &str) -> bool {
    calls.iter().any(|c| c.is("PATCH", path))
}

fn deployment_path() -> String {
    child_paths(APP_NAME)[2].clone()
}

#[tokio::test]
async fn a_new_app_starts_no_deployment_pod_before_its_first_migration_succeeded() {
    let app = with_migration("");
    let job = job_name(&app);
    let mut flow = Flow::start(Cluster::default());

    let (_, calls) = flow.reconcile(&app).await;
    let job_call = calls
        .iter()
        .find(|c| c.is("PATCH", &job_path(&job)))
        .expect("the migration Job is created");
    assert_eq!(
        job_call.body["metadata"]["resourceVersion"],
        CREATE_ONLY_VERSION
    );
    // Its inputs first; nothing of the workload or of what points at it.
    for path in &child_paths(APP_NAME)[0..2] {
        assert!(applied(&calls, path), "{path}");
    }
    for path in &child_paths(APP_NAME)[2..] {
        assert!(!applied(&calls, path), "{path} before the migration");
    }
    let status = written_status(&calls, APP_NAME);
    assert_eq!(condition(&status, "Ready").reason, "MigrationInProgress");
    assert_eq!(condition(&status, "Progressing").reason, "Migrating");
    let migration = status.migration.unwrap();
    assert_eq!(
        (migration.job.as_str(), migration.phase.as_str()),
        (job.as_str(), "Running")
    );

    // Nothing changed: a resync creates nothing and waits.
    let (_, calls) = flow.reconcile(&app).await;
    assert!(!applied(&calls, &job_path(&job)), "{calls:#?}");
    assert!(!applied(&calls, &deployment_path()));

    // The Job succeeded: now the Deployment and the rest are applied, the Job is not.
    flow.finish_job(&job, "Complete");
    let (_, calls) = flow.reconcile(&app).await;
    assert!(!applied(&calls, &job_path(&job)));
    for path in &child_paths(APP_NAME)[2..] {
        assert!(applied(&calls, path), "{path} after the migration");
    }
    let status = written_status(&calls, APP_NAME);
    assert_eq!(status.migration.as_ref().unwrap().phase, "Succeeded");
    assert_ne!(condition(&status, "Ready").reason, "MigrationInProgress");
    let told: Vec<String> = events(&calls).into_iter().map(|e| e.0).collect();
    assert!(told.contains(&"MigrationSucceeded".to_string()), "{told:?}");
    flow.finish().await;
}

#[tokio::test]
async fn a_new_image_runs_a_new_migration_and_keeps_the_old_template_until_it_succeeded() {
    let old = with_image("nginx:1.14");
    let new = with_image("nginx:1.15");
    let (old_job, new_job) = (job_name(&old), job_name(&new));
    assert_ne!(old_job, new_job, "the version is in the name");
    let mut flow = Flow::start(Cluster::default());
    flow.reconcile(&old).await;
    flow.finish_job(&old_job, "Complete");
    let (_, calls) = flow.reconcile(&old).await;
    assert!(applied(&calls, &deployment_path()));

    let (_, calls) = flow.reconcile(&new).await;
    assert!(applied(&calls, &job_path(&new_job)), "{calls:#?}");
    assert!(
        !applied(&calls, &deployment_path()),
        "the Deployment keeps the old version's pod template"
    );
    // The ConfigMap of the new version is applied first: the Job reads it.
    let status = written_status(&calls, APP_NAME);
    assert_eq!(condition(&status, "Ready").reason, "MigrationInProgress");

    flow.finish_job(&new_job, "Complete");
    let (_, calls) = flow.reconcile(&new).await;
    let deployment = calls
        .iter()
        .find(|c| c.is("PATCH", &deployment_path()))
        .expect("the new template, after the migration");
    assert_eq!(
        deployment.body["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.15"
    );
    // The old version's Job stays, within the history limit.
    assert!(!calls.iter().any(|c| c.method == "DELETE"), "{calls:#?}");
    flow.finish().await;
}

#[tokio::test]
async fn a_failed_migration_keeps_the_old_version_and_says_why_once() {
    let old = with_image("nginx:1.14");
    let new = with_image("nginx:1.15");
    let new_job = job_name(&new);
    let mut cluster = Cluster::default();
    // The Job's pods, as a list by the Job's UID would find them.
    cluster.objects.insert(
        format!("/api/v1{NS}/pods"),
        json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [{
            "metadata": {"name": format!("{new_job}-x7k2p"), "namespace": "shop", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Failed", "containerStatuses": [{
                "name": "migrate", "image": "nginx:1.15", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 3, "reason": "Error", "message": "DATABASE_URL=postgres://secret"}}
            }]}
        }]}),
    );
    let mut flow = Flow::start(cluster);
    flow.reconcile(&old).await;
    flow.finish_job(&job_name(&old), "Complete");
    flow.reconcile(&old).await;
    flow.reconcile(&new).await;
    flow.finish_job(&new_job, "Failed");

    let (_, calls) = flow.reconcile(&new).await;
    let list = calls
        .iter()
        .find(|c| c.is("GET", &format!("/api/v1{NS}/pods")))
        .expect("the failed Job's pods are read");
    assert!(
        list.query
            .contains("batch.kubernetes.io%2Fcontroller-uid%3D"),
        "by the Job's UID: {}",
        list.query
    );
    assert!(
        !applied(&calls, &deployment_path()),
        "the old version keeps serving"
    );
    let status = written_status(&calls, APP_NAME);
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded.status, "True");
    assert_eq!(degraded.reason, "MigrationFailed");
    for part in [
        "BackoffLimitExceeded: Job has reached the specified backoff limit",
        "container migrate exited with code 3 (Error)",
        &format!("kubectl -n shop delete job {new_job}"),
    ] {
        assert!(
            degraded.message.contains(part),
            "{part}: {}",
            degraded.message
        );
    }
    assert_eq!(condition(&status, "Ready").reason, "MigrationFailed");
    assert_eq!(status.migration.as_ref().unwrap().phase, "Failed");
    let everything = format!("{:?}{:?}", status, events(&calls));
    assert!(
        !everything.contains("postgres://secret"),
        "no container output anywhere"
    );
    let failed: Vec<_> = events(&calls)
        .into_iter()
        .filter(|e| e.0 == "MigrationFailed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");

    // Looked at again: the reason is known, no pods are read, nothing is told again.
    let (_, calls) = flow.reconcile(&new).await;
    assert!(!calls.iter().any(|c| c.method == "GET"), "{calls:#?}");
    assert!(events(&calls).is_empty(), "{:?}", events(&calls));
    assert!(!applied(&calls, &deployment_path()));
    flow.finish().await;
}

#[tokio::test]
async fn deleting_the_failed_job_runs_the_same_version_again() {
    let app = with_migration("");
    let job = job_name(&app);
    let mut flow = Flow::start(Cluster::default());
    flow.reconcile(&app).await;
    flow.finish_job(&job, "Failed");
    flow.reconcile(&app).await;
    let cached = flow
        .watches
        .jobs
        .as_reader()
        .get(&kube::runtime::reflector::ObjectRef::new(&job).within("shop"))
        .unwrap();
    flow.watches
        .jobs
        .apply_watcher_event(&watcher::Event::Delete(cached.as_ref().clone()));
    let (_, calls) = flow.reconcile(&app).await;
    let again = calls
        .iter()
        .find(|c| c.is("PATCH", &job_path(&job)))
        .expect("created again");
    assert_eq!(
        again.body["metadata"]["resourceVersion"],
        CREATE_ONLY_VERSION
    );
    let status = written_status(&calls, APP_NAME);
    assert_eq!(status.migration.unwrap().phase, "Running");
    flow.finish().await;
}

#[tokio::test]
async fn a_restarted_operator_runs_no_migration_again() {
    // A new process: nothing remembered, the caches filled from the cluster.
    let app = with_migration("");
    let job = job_name(&app);
    let mut children = all_owned(APP_NAME);
    children.jobs = store_of(vec![owned_job(&job, 10, Some("Complete"))]);
    let mut harness = Harness::new(app);
    harness.children = Some(children);
    let (result, calls) = harness.run().await;
    assert!(result.is_ok(), "{result:?}");
    assert!(
        !calls.iter().any(|c| c.path.contains("/jobs/")),
        "{calls:#?}"
    );
    assert!(applied(&calls, &deployment_path()), "the gate is open");
    let status = written_status(&calls, APP_NAME);
    assert_eq!(status.migration.unwrap().phase, "Succeeded");
}

#[tokio::test]
async fn old_migration_jobs_are_pruned_to_the_history_limit_but_never_a_running_one() {
    let app = with_migration("");
    let current = job_name(&app);
    let mut children = all_owned(APP_NAME);
    children.jobs = store_of(vec![
        owned_job(&current, 100, Some("Complete")),
        owned_job("my-application-migrate-aaaaaaaaa1", 10, Some("Complete")),
        owned_job("my-application-migrate-aaaaaaaaa2", 20, Some("Failed")),
        owned_job("my-application-migrate-aaaaaaaaa3", 30, Some("Complete")),
        owned_job("my-application-migrate-aaaaaaaaa4", 40, Some("Complete")),
    ]);
    let mut harness = Harness::new(app);
    harness.children = Some(children);
    let (_, calls) = harness.run().await;
    let mut deleted: Vec<&str> = calls
        .iter()
        .filter(|c| c.method == "DELETE")
        .map(|c| c.path.as_str())
        .collect();
    deleted.sort_unstable();
    // Built-in historyLimit 3: the current Job and the two newest others stay.
    assert_eq!(
        deleted,
        [
            job_path("my-application-migrate-aaaaaaaaa1"),
            job_path("my-application-migrate-aaaaaaaaa2"),
        ]
    );
    let delete = calls.iter().find(|c| c.method == "DELETE").unwrap();
    assert_eq!(
        delete.body["propagationPolicy"], "Background",
        "its pods go too"
    );
    assert!(
        events(&calls)
            .iter()
            .any(|(reason, note)| reason == "Pruned"
                && note.contains("Job/my-application-migrate-aaaaaaaaa1")),
        "{:?}",
        events(&calls)
    );
}

#[tokio::test]
async fn a_newer_version_waits_for_a_running_migration_and_nothing_deletes_it() {
    let app = with_migration("");
    let mut children = all_owned(APP_NAME);
    children.jobs = store_of(vec![owned_job(
        "my-application-migrate-aaaaaaaaa1",
        10,
        None,
    )]);
    let mut harness = Harness::new(app.clone());
    harness.children = Some(children);
    let (_, calls) = harness.run().await;
    assert!(!applied(&calls, &job_path(&job_name(&app))), "{calls:#?}");
    assert!(!calls.iter().any(|c| c.method == "DELETE"));
    assert!(!applied(&calls, &deployment_path()));
    let status = written_status(&calls, APP_NAME);
    let migration = status.migration.unwrap();
    assert_eq!(migration.phase, "Waiting");
    assert!(
        migration
            .message
            .unwrap()
            .contains("Job/my-application-migrate-aaaaaaaaa1")
    );
}

#[tokio::test]
async fn a_migration_waits_for_supplied_secret_values() {
    let app = with_migration("  secrets:\n    supplied: [DATABASE_URL]\n");
    let (_, calls) = Harness::new(app.clone()).run().await;
    assert!(!applied(&calls, &job_path(&job_name(&app))), "{calls:#?}");
    let status = written_status(&calls, APP_NAME);
    assert_eq!(condition(&status, "Degraded").reason, "WaitingForSecret");
    assert_eq!(status.migration.unwrap().phase, "Waiting");
}

#[tokio::test]
async fn cron_jobs_are_applied_and_a_removed_entry_is_pruned() {
    let app = app(&format!(
        "{REFERENCE}  cronJobs:\n    - name: nightly\n      schedule: '0 3 * * *'\n      command: [report]\n"
    ));
    let mut children = all_owned(APP_NAME);
    children.cron_jobs = store_of(vec![
        owned_cron_job("my-application-weekly"),
        // A CronJob of the same App name that is someone else's is never touched.
        {
            let mut foreign = owned_cron_job("my-application-manual");
            foreign.metadata.owner_references = None;
            foreign
        },
    ]);
    let mut harness = Harness::new(app);
    harness.children = Some(children);
    let (_, calls) = harness.run().await;
    let nightly = calls
        .iter()
        .find(|c| c.is("PATCH", &cron_path("my-application-nightly")))
        .expect("the CronJob is applied");
    assert_eq!(nightly.body["spec"]["schedule"], "0 3 * * *");
    assert_eq!(nightly.body["spec"]["concurrencyPolicy"], "Forbid");
    let deletes: Vec<&str> = calls
        .iter()
        .filter(|c| c.method == "DELETE")
        .map(|c| c.path.as_str())
        .collect();
    assert_eq!(deletes, [cron_path("my-application-weekly")]);
    assert!(
        events(&calls)
            .iter()
            .any(|(reason, note)| reason == "Pruned"
                && note.contains("CronJob/my-application-weekly"))
    );
    let status = written_status(&calls, APP_NAME);
    assert!(
        status
            .children
            .contains(&"CronJob/my-application-nightly".to_string())
    );
}

#[tokio::test]
async fn a_failed_cron_run_is_told_once_and_the_app_stays_ready() {
    let yaml = "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {name: my-application}\nspec:\n  image: nginx:1.14\n  cronJobs:\n    - {name: nightly, schedule: '0 3 * * *', command: [report]}\n";
    let app = app(yaml);
    let mut cron = owned_cron_job("my-application-nightly");
    cron.status = Some(k8s_openapi::api::batch::v1::CronJobStatus {
        last_schedule_time: Some(at(1_800_000_000)),
        last_successful_time: Some(at(1_799_913_700)),
        active: None,
    });
    let mut children = empty_children();
    children.config_maps = store_of(vec![owned_meta(APP_NAME, "1")]);
    children.secrets = store_of(vec![owned_meta(APP_NAME, "1")]);
    let mut cluster = Cluster::default();
    // The apply answers with the CronJob as it is, status included.
    cluster.objects.insert(
        cron_path("my-application-nightly"),
        serde_json::to_value(&cron).unwrap(),
    );
    children.cron_jobs = store_of(vec![cron]);
    let mut harness = Harness::new(app.clone());
    harness.cluster = cluster.clone();
    harness.children = Some(children);
    let (_, calls) = harness.run().await;
    // Batch-only: no Deployment, Service, HPA, PDB or Ingress.
    for path in &child_paths(APP_NAME)[2..] {
        assert!(!applied(&calls, path), "{path}");
    }
    let status = written_status(&calls, APP_NAME);
    assert_eq!(condition(&status, "Ready").status, "True");
    assert_eq!(condition(&status, "Ready").reason, "Scheduled");
    let nightly = &status.cron_jobs[0];
    assert!(nightly.last_run_failed, "{nightly:?}");
    assert_eq!(nightly.last_schedule_time, Some(at(1_800_000_000)));
    let failed: Vec<_> = events(&calls)
        .into_iter()
        .filter(|e| e.0 == "CronJobFailed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]
            .1
            .contains("kubectl -n shop logs job/my-application-nightly-30000000"),
        "{}",
        failed[0].1
    );

    // The same failed run, looked at again with that status: not told twice.
    let mut seen = app;
    seen.status = Some(status);
    let mut children = empty_children();
    children.config_maps = store_of(vec![owned_meta(APP_NAME, "1")]);
    children.secrets = store_of(vec![owned_meta(APP_NAME, "1")]);
    let mut cron = owned_cron_job("my-application-nightly");
    cron.status = Some(k8s_openapi::api::batch::v1::CronJobStatus {
        last_schedule_time: Some(at(1_800_000_000)),
        last_successful_time: Some(at(1_799_913_700)),
        active: None,
    });
    children.cron_jobs = store_of(vec![cron]);
    let mut harness = Harness::new(seen);
    harness.cluster = cluster;
    harness.children = Some(children);
    let (_, calls) = harness.run().await;
    assert!(!events(&calls).iter().any(|e| e.0 == "CronJobFailed"));
}

#[tokio::test]
async fn a_job_name_someone_else_holds_blocks_the_migration_and_is_reported() {
    let app = with_migration("");
    let job = job_name(&app);
    let mut foreign = owned_job(&job, 10, Some("Complete"));
    foreign.metadata.owner_references = None;
    let mut children = all_owned(APP_NAME);
    children.jobs = store_of(vec![foreign]);
    let mut harness = Harness::new(app);
    harness.children = Some(children);
    let (_, calls) = harness.run().await;
    assert!(!applied(&calls, &job_path(&job)));
    assert!(!calls.iter().any(|c| c.method == "DELETE"));
    assert!(!applied(&calls, &deployment_path()));
    let status = written_status(&calls, APP_NAME);
    assert_eq!(condition(&status, "Degraded").reason, "NameConflict");
    assert_eq!(status.migration.unwrap().phase, "Blocked");
}
