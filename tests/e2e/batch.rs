//! Migrations and cron jobs against a real API server and controller manager.
//!
//! Where the cluster's nodes run pods, each Job's command decides its outcome (`exit 0` or
//! `exit 1`); where no node takes them, the Apps ask for more cpu than any node has and the
//! suite ends their pods through `pods/status` as a kubelet would (`baseplate_tests::job_pods`).
//! The Job controller and the CronJob controller of the cluster do the rest for real. What can
//! only be seen while a Job runs is checked only where nothing but the suite can end it.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::ensure;
use baseplate_crd::app::{CronJobEntry, Migrate, Port};
use baseplate_crd::platform::{MigrateDefaults, PlatformDefaults, PlatformSpec};
use baseplate_crd::{App, AppSpec, Platform};
use baseplate_tests::Result;
use baseplate_tests::checks::{check_condition, condition};
use baseplate_tests::env::{Env, MANAGER, REACT};
use baseplate_tests::job_pods::{JobPods, exit_command};
use baseplate_tests::namespace::DeleteOnDrop;
use baseplate_tests::wait::eventually;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};

const APP: &str = "orders";
/// Has a POSIX shell and runs as a numeric non-root user, as the restricted defaults require.
const IMAGE: &str = "nginxinc/nginx-unprivileged";

/// A web App whose migration exits with `exit_code`.
fn web(tag: &str, pods: JobPods, exit_code: i32) -> AppSpec {
    AppSpec {
        image: format!("{IMAGE}:{tag}"),
        ports: vec![Port {
            name: "http".into(),
            container_port: 8080,
            protocol: None,
        }],
        replicas: Some(1),
        resources: Some(pods.resources()),
        migrate: Some(Migrate {
            command: exit_command(exit_code),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The migration Job the App's status names, once it is another than `previous`.
async fn next_migration(env: &Env, previous: Option<&str>) -> Result<(App, String)> {
    eventually("a new migration Job in status", REACT, async || {
        let app = env.app(APP).await?;
        let job = app
            .status
            .as_ref()
            .and_then(|s| s.migration.as_ref())
            .map(|m| m.job.clone())
            .ok_or_else(|| anyhow::anyhow!("no status.migration yet"))?;
        ensure!(Some(job.as_str()) != previous, "still {job}");
        Ok((app, job))
    })
    .await
}

/// The migration the App's status names, once it has reached `phase`.
async fn migration_in(env: &Env, phase: &str) -> Result<(App, String)> {
    eventually(&format!("the migration is {phase}"), REACT, async || {
        let app = env.app(APP).await?;
        let migration = app
            .status
            .as_ref()
            .and_then(|s| s.migration.clone())
            .ok_or_else(|| anyhow::anyhow!("no status.migration yet"))?;
        ensure!(
            migration.phase == phase,
            "{} is {} ({:?})",
            migration.job,
            migration.phase,
            migration.message
        );
        Ok((app, migration.job))
    })
    .await
}

/// Ends the Job `name` with `exit_code` (its command's), and waits for the Job controller to
/// say so. Returns the Job's UID.
async fn finish_job(env: &Env, pods: JobPods, name: &str, exit_code: i32) -> Result<String> {
    let uid = env.api::<Job>().get(name).await?.uid().unwrap_or_default();
    pods.end(env, &uid, exit_code).await?;
    let outcome = if exit_code == 0 { "Complete" } else { "Failed" };
    eventually(&format!("{name} is {outcome}"), REACT, async || {
        let job = env.api::<Job>().get(name).await?;
        ensure!(job.uid().as_deref() == Some(uid.as_str()), "another Job");
        let conditions = job.status.and_then(|s| s.conditions).unwrap_or_default();
        ensure!(
            conditions
                .iter()
                .any(|c| c.type_ == outcome && c.status == "True"),
            "{conditions:?}"
        );
        Ok(())
    })
    .await?;
    Ok(uid)
}

async fn deployment_image(env: &Env) -> Result<Option<String>> {
    Ok(env
        .api::<Deployment>()
        .get_opt(APP)
        .await?
        .and_then(|d| d.spec?.template.spec?.containers.first()?.image.clone()))
}

async fn deployment_moves_to(env: &Env, tag: &str) -> Result {
    let want = format!("{IMAGE}:{tag}");
    eventually(&format!("the Deployment runs {want}"), REACT, async || {
        let image = deployment_image(env).await?;
        ensure!(image.as_deref() == Some(want.as_str()), "{image:?}");
        Ok(())
    })
    .await
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn each_version_is_migrated_before_the_deployment_moves_to_it() -> Result {
    let Some(mut env) = Env::start("migrate").await? else {
        return Ok(());
    };
    let pods = JobPods::of(&env).await?;
    println!("job pods: {pods:?}");
    // One migration Job kept, so the prune is seen.
    let platform_name = format!("{}-history", env.namespace);
    let _cleanup = DeleteOnDrop::<Platform>::new(&platform_name);
    let platform = Platform::new(
        &platform_name,
        PlatformSpec {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_string(),
                    env.namespace.clone(),
                )])),
                ..Default::default()
            }),
            defaults: PlatformDefaults {
                migrate: Some(MigrateDefaults {
                    history_limit: Some(1),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    Api::<Platform>::all(env.client.clone())
        .patch(
            &platform_name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&platform),
        )
        .await?;

    // A new App: its migration runs first, and no Deployment exists meanwhile.
    env.apply_app(APP, web("1.27", pods, 0)).await?;
    let (app, first) = next_migration(&env, None).await?;
    ensure!(
        first.starts_with("orders-migrate-"),
        "the Job carries the version: {first}"
    );
    if pods == JobPods::EndedByTheSuite {
        let ready = condition(&app, "Ready").unwrap();
        assert_eq!(ready.reason, "MigrationInProgress", "{}", ready.message);
        ensure!(
            deployment_image(&env).await?.is_none(),
            "no Deployment before the migration"
        );
        ensure!(
            env.api::<Service>().get_opt(APP).await?.is_none(),
            "nothing that points at the Deployment either"
        );
    }
    let job = env.api::<Job>().get(&first).await?;
    let pod = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));

    finish_job(&env, pods, &first, 0).await?;
    migration_in(&env, "Succeeded").await?;
    deployment_moves_to(&env, "1.27").await?;
    // On every cluster: the Deployment was made only once the migration had succeeded.
    let completed = env
        .api::<Job>()
        .get(&first)
        .await?
        .status
        .unwrap()
        .completion_time;
    let created = env.api::<Deployment>().get(APP).await?.creation_timestamp();
    ensure!(
        completed.is_some() && created >= completed,
        "Deployment created {created:?}, migration completed {completed:?}"
    );

    // A new image whose migration fails: the Deployment keeps the old template.
    env.apply_app(APP, web("1.28", pods, 1)).await?;
    let (_, second) = next_migration(&env, Some(&first)).await?;
    let failed_uid = finish_job(&env, pods, &second, 1).await?;
    let (app, _) = migration_in(&env, "Failed").await?;
    let degraded = condition(&app, "Degraded").unwrap();
    assert_eq!(degraded.reason, "MigrationFailed");
    for part in [
        "BackoffLimitExceeded",
        "container migrate exited with code 1 (Error)",
        &format!("delete job {second}"),
    ] {
        ensure!(
            degraded.message.contains(part),
            "{part}: {}",
            degraded.message
        );
    }
    assert_eq!(
        deployment_image(&env).await?,
        Some(format!("{IMAGE}:1.27")),
        "the old version keeps serving"
    );
    eventually("one MigrationFailed event", REACT, async || {
        let told = env.events(APP).await?;
        let failed = told.iter().filter(|(r, _)| r == "MigrationFailed").count();
        ensure!(failed == 1, "{told:?}");
        Ok(())
    })
    .await?;

    // The documented retry: delete the failed Job; the same version runs again (and, its
    // command unchanged, fails again).
    env.api::<Job>()
        .delete(&second, &DeleteParams::background())
        .await?;
    eventually("the Job is created again", REACT, async || {
        let job = env.api::<Job>().get(&second).await?;
        ensure!(
            job.uid() != Some(failed_uid.clone()),
            "still the failed Job"
        );
        Ok(())
    })
    .await?;
    finish_job(&env, pods, &second, 1).await?;
    let (app, job) = migration_in(&env, "Failed").await?;
    assert_eq!(job, second, "the same version");
    assert_eq!(
        condition(&app, "Degraded").unwrap().reason,
        "MigrationFailed"
    );
    assert_eq!(deployment_image(&env).await?, Some(format!("{IMAGE}:1.27")));

    // The migration fixed: a new version, a new Job; on success the Deployment moves.
    env.apply_app(APP, web("1.28", pods, 0)).await?;
    let (_, third) = next_migration(&env, Some(&second)).await?;
    finish_job(&env, pods, &third, 0).await?;
    migration_in(&env, "Succeeded").await?;
    deployment_moves_to(&env, "1.28").await?;
    eventually(
        "the older Jobs are pruned (historyLimit 1)",
        REACT,
        async || {
            let jobs = env.api::<Job>().list(&ListParams::default()).await?.items;
            let names: Vec<String> = jobs.iter().map(|j| j.name_any()).collect();
            ensure!(names == [third.clone()], "{names:?}");
            Ok(())
        },
    )
    .await?;
    let kept = env.api::<Job>().get(&third).await?.uid();

    // A restart runs nothing again: the same Job, no other.
    env.restart_operator().await?;
    env.apply_app(APP, {
        let mut spec = web("1.28", pods, 0);
        spec.replicas = Some(2); // an edit that is not a new version
        spec
    })
    .await?;
    env.reconciled_app(APP).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let jobs = env.api::<Job>().list(&ListParams::default()).await?.items;
    let names: Vec<String> = jobs.iter().map(|j| j.name_any()).collect();
    assert_eq!(
        names,
        std::slice::from_ref(&third),
        "no migration ran again"
    );
    assert_eq!(jobs[0].uid(), kept);
    let (app, _) = migration_in(&env, "Succeeded").await?;
    match pods {
        // Degraded says only that no node takes the Deployment's pods (their cpu).
        JobPods::EndedByTheSuite => {
            let degraded = condition(&app, "Degraded").unwrap();
            ensure!(
                degraded.reason != "MigrationFailed" && !degraded.message.contains("Migration"),
                "{degraded:?}"
            );
        }
        JobPods::RunByNodes => {
            eventually("Ready", REACT, async || {
                check_condition(&env.app(APP).await?, "Ready", "True", None)
            })
            .await?;
        }
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn a_batch_only_app_gets_its_cron_jobs_and_reports_a_failed_run() -> Result {
    let Some(env) = Env::start("cron").await? else {
        return Ok(());
    };
    let pods = JobPods::of(&env).await?;
    println!("job pods: {pods:?}");
    let entry = |name: &str, schedule: &str| CronJobEntry {
        name: name.into(),
        schedule: schedule.into(),
        command: Some(exit_command(1)),
        time_zone: Some("Asia/Tokyo".into()),
        // One failed pod fails the run.
        backoff_limit: Some(0),
        ..Default::default()
    };
    let mut spec = AppSpec {
        image: format!("{IMAGE}:1.27"),
        resources: Some(pods.resources()),
        // Every minute, so that a run comes soon.
        cron_jobs: vec![
            entry("every-minute", "* * * * *"),
            entry("nightly", "0 3 * * *"),
        ],
        ..Default::default()
    };
    env.apply_app(APP, spec.clone()).await?;
    let cron_jobs = env.api::<CronJob>();
    eventually("both CronJobs", REACT, async || {
        let mut names: Vec<String> = cron_jobs
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .map(|c| c.name_any())
            .collect();
        names.sort();
        ensure!(
            names == ["orders-every-minute", "orders-nightly"],
            "{names:?}"
        );
        Ok(())
    })
    .await?;
    let nightly = cron_jobs.get("orders-nightly").await?.spec.unwrap();
    assert_eq!(nightly.time_zone.as_deref(), Some("Asia/Tokyo"));
    assert_eq!(nightly.concurrency_policy.as_deref(), Some("Forbid"));
    let app = env.reconciled_app(APP).await?;
    let listed = app.status.clone().unwrap_or_default().children;
    ensure!(
        !listed
            .iter()
            .any(|c| c.starts_with("Deployment/") || c.starts_with("Service/")),
        "batch-only: {listed:?}"
    );
    ensure!(deployment_image(&env).await?.is_none());
    eventually("Ready: Scheduled", REACT, async || {
        check_condition(&env.app(APP).await?, "Ready", "True", Some("Scheduled"))
    })
    .await?;

    // The controller manager starts a run within a minute; it fails.
    let run = eventually(
        "a run of orders-every-minute",
        Duration::from_secs(90),
        async || {
            let jobs = env.api::<Job>().list(&ListParams::default()).await?.items;
            jobs.into_iter()
                .find(|j| j.name_any().starts_with("orders-every-minute-"))
                .ok_or_else(|| anyhow::anyhow!("no run yet"))
        },
    )
    .await?;
    pods.end(&env, &run.uid().unwrap_or_default(), 1).await?;
    eventually("status shows the failed run", REACT, async || {
        let app = env.app(APP).await?;
        let status = app.status.clone().unwrap_or_default();
        let every = status
            .cron_jobs
            .iter()
            .find(|c| c.name == "every-minute")
            .ok_or_else(|| anyhow::anyhow!("no status for every-minute: {:?}", status.cron_jobs))?;
        ensure!(every.last_run_failed, "{every:?}");
        ensure!(every.last_schedule_time.is_some());
        // The App still serves.
        check_condition(&app, "Ready", "True", None)
    })
    .await?;
    eventually("a CronJobFailed event naming the run", REACT, async || {
        let told = env.events(APP).await?;
        ensure!(
            told.iter().any(
                |(r, n)| r == "CronJobFailed" && n.contains(&format!("job/{}", run.name_any()))
            ),
            "{told:?}"
        );
        Ok(())
    })
    .await?;

    // Removing an entry prunes its CronJob.
    spec.cron_jobs.retain(|c| c.name == "nightly");
    env.apply_app(APP, spec).await?;
    eventually("the removed entry's CronJob is pruned", REACT, async || {
        ensure!(
            cron_jobs.get_opt("orders-every-minute").await?.is_none(),
            "still there"
        );
        ensure!(cron_jobs.get_opt("orders-nightly").await?.is_some());
        Ok(())
    })
    .await?;
    Ok(())
}
