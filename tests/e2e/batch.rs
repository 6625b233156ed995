//! Migrations and cron jobs against a real API server and controller manager.
//!
//! No kubelet may run the Jobs' pods: a real one would need a runnable image, and kwok (on the
//! suite's usual cluster) completes every Job pod with exit 0. So the Apps ask for more CPU
//! than any node has, their pods stay unscheduled on every cluster, and the test ends them
//! through the `pods/status` subresource as a kubelet would (`kubelet::write_exit`); the Job
//! controller and the CronJob controller then do what they do for real.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::ensure;
use baseplate_crd::app::{CronJobEntry, Migrate, Port, Resources};
use baseplate_crd::platform::{MigrateDefaults, PlatformDefaults, PlatformSpec};
use baseplate_crd::{App, AppSpec, Platform};
use baseplate_tests::Result;
use baseplate_tests::checks::{check_condition, condition};
use baseplate_tests::env::{Env, MANAGER, REACT};
use baseplate_tests::kubelet::{unscheduled_job_pods, write_exit};
use baseplate_tests::namespace::DeleteOnDrop;
use baseplate_tests::wait::eventually;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};

const APP: &str = "orders";

/// A web App with a migration, whose pods no node can take (see the module's comment).
fn web(image: &str) -> AppSpec {
    AppSpec {
        image: image.into(),
        ports: vec![Port {
            name: "http".into(),
            container_port: 8080,
            protocol: None,
        }],
        replicas: Some(1),
        resources: Some(unschedulable()),
        migrate: Some(Migrate {
            command: vec!["sh".into(), "-c".into(), "exit 0".into()],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn unschedulable() -> Resources {
    Resources {
        cpu: Some("1000".into()),
        memory: Some("64Mi".into()),
        ..Default::default()
    }
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

/// Ends the (one) pod of the Job `name` with `exit_code`, as its kubelet would.
async fn exit_job(env: &Env, name: &str, exit_code: i32) -> Result<String> {
    let job = env.api::<Job>().get(name).await?;
    let uid = job.uid().unwrap_or_default();
    let pods = unscheduled_job_pods(env, &uid).await?;
    write_exit(&env.api::<Pod>(), &pods[0], exit_code).await?;
    Ok(uid)
}

async fn deployment_image(env: &Env) -> Result<Option<String>> {
    Ok(env
        .api::<Deployment>()
        .get_opt(APP)
        .await?
        .and_then(|d| d.spec?.template.spec?.containers.first()?.image.clone()))
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn each_version_is_migrated_before_the_deployment_moves_to_it() -> Result {
    let Some(mut env) = Env::start("migrate").await? else {
        return Ok(());
    };
    // One migration Job kept, so the prune is seen after the second version.
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
    env.apply_app(APP, web("nginxinc/nginx-unprivileged:1.27"))
        .await?;
    let (app, first) = migration_in(&env, "Running").await?;
    let ready = condition(&app, "Ready").unwrap();
    assert_eq!(ready.reason, "MigrationInProgress", "{}", ready.message);
    ensure!(
        first.starts_with("orders-migrate-"),
        "the Job carries the version: {first}"
    );
    ensure!(
        deployment_image(&env).await?.is_none(),
        "no Deployment before the migration"
    );
    ensure!(
        env.api::<Service>().get_opt(APP).await?.is_none(),
        "nothing that points at the Deployment either"
    );
    let job = env.api::<Job>().get(&first).await?;
    let pod = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));

    exit_job(&env, &first, 0).await?;
    migration_in(&env, "Succeeded").await?;
    eventually("the Deployment after the migration", REACT, async || {
        let image = deployment_image(&env).await?;
        ensure!(
            image.as_deref() == Some("nginxinc/nginx-unprivileged:1.27"),
            "{image:?}"
        );
        Ok(())
    })
    .await?;

    // A new image: a new Job; the Deployment keeps the old template until it succeeds.
    env.apply_app(APP, web("nginxinc/nginx-unprivileged:1.28"))
        .await?;
    let (_, second) = migration_in(&env, "Running").await?;
    ensure!(second != first, "a new version, a new Job: {second}");
    let failed_uid = exit_job(&env, &second, 1).await?;
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
        deployment_image(&env).await?.as_deref(),
        Some("nginxinc/nginx-unprivileged:1.27"),
        "the old version keeps serving"
    );
    eventually("one MigrationFailed event", REACT, async || {
        let told = env.events(APP).await?;
        let failed = told.iter().filter(|(r, _)| r == "MigrationFailed").count();
        ensure!(failed == 1, "{told:?}");
        Ok(())
    })
    .await?;

    // The documented retry: delete the failed Job; the same version runs again.
    env.api::<Job>()
        .delete(&second, &DeleteParams::background())
        .await?;
    let retried = eventually("the Job is created again", REACT, async || {
        let job = env.api::<Job>().get(&second).await?;
        let uid = job.uid().unwrap_or_default();
        ensure!(uid != failed_uid, "still the failed Job");
        Ok(uid)
    })
    .await?;
    exit_job(&env, &second, 0).await?;
    migration_in(&env, "Succeeded").await?;
    eventually(
        "the Deployment moves to the new version",
        REACT,
        async || {
            let image = deployment_image(&env).await?;
            ensure!(
                image.as_deref() == Some("nginxinc/nginx-unprivileged:1.28"),
                "{image:?}"
            );
            Ok(())
        },
    )
    .await?;
    eventually(
        "the older Job is pruned (historyLimit 1)",
        REACT,
        async || {
            ensure!(
                env.api::<Job>().get_opt(&first).await?.is_none(),
                "{first} still there"
            );
            Ok(())
        },
    )
    .await?;

    // A restart runs nothing again: the same Job, no other.
    env.restart_operator().await?;
    env.apply_app(APP, {
        let mut spec = web("nginxinc/nginx-unprivileged:1.28");
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
        std::slice::from_ref(&second),
        "no migration ran again"
    );
    assert_eq!(jobs[0].uid(), Some(retried));
    let (app, _) = migration_in(&env, "Succeeded").await?;
    // Degraded now says only that no node takes the Deployment's pods (the CPU above).
    let degraded = condition(&app, "Degraded").unwrap();
    ensure!(
        degraded.reason != "MigrationFailed" && !degraded.message.contains("Migration"),
        "{degraded:?}"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn a_batch_only_app_gets_its_cron_jobs_and_reports_a_failed_run() -> Result {
    let Some(env) = Env::start("cron").await? else {
        return Ok(());
    };
    let entry = |name: &str, schedule: &str| CronJobEntry {
        name: name.into(),
        schedule: schedule.into(),
        command: Some(vec!["sh".into(), "-c".into(), "exit 1".into()]),
        time_zone: Some("Asia/Tokyo".into()),
        // One failed pod fails the run: the test plays the kubelet for one pod only.
        backoff_limit: Some(0),
        ..Default::default()
    };
    let mut spec = AppSpec {
        image: "busybox:1.36".into(),
        resources: Some(unschedulable()),
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
    let pods = unscheduled_job_pods(&env, &run.uid().unwrap_or_default()).await?;
    write_exit(&env.api::<Pod>(), &pods[0], 1).await?;
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
