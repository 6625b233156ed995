//! `baseplate diff --platform NEW.yaml` against the live cluster, as the operator's
//! ServiceAccount: it previews, and writes nothing.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context as _, ensure};
use baseplate_crd::app::Port;
use baseplate_crd::platform::{PlatformDefaults, PlatformSpec};
use baseplate_crd::{AppSpec, Platform};
use baseplate_tests::Result;
use baseplate_tests::env::{Env, MANAGER, REACT};
use baseplate_tests::namespace::DeleteOnDrop;
use baseplate_tests::operator::{self, SERVICE_ACCOUNT, SERVICE_ACCOUNT_GROUPS};
use baseplate_tests::wait::eventually;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, Patch, PatchParams};

fn platform(name: &str, namespace: &str, pre_stop: i64) -> Platform {
    Platform::new(
        name,
        PlatformSpec {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_string(),
                    namespace.to_string(),
                )])),
                ..Default::default()
            }),
            defaults: PlatformDefaults {
                pre_stop_sleep_seconds: Some(pre_stop),
                ..Default::default()
            },
            ..Default::default()
        },
    )
}

fn web() -> AppSpec {
    AppSpec {
        image: "nginxinc/nginx-unprivileged:1.27".into(),
        ports: vec![Port {
            name: "http".into(),
            container_port: 8080,
            protocol: None,
        }],
        ..Default::default()
    }
}

/// Runs `baseplate diff --platform FILE` with the operator's rights; (exit code, stdout, stderr).
fn diff(file: &std::path::Path) -> Result<(Option<i32>, String, String)> {
    let output = Command::new(operator::binary()?)
        .args(["diff", "--platform"])
        .arg(file)
        .env("KUBE_RS_DEBUG_IMPERSONATE_USER", SERVICE_ACCOUNT)
        .env("KUBE_RS_DEBUG_IMPERSONATE_GROUP", SERVICE_ACCOUNT_GROUPS)
        .output()
        .context("running baseplate diff")?;
    Ok((
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

#[tokio::test]
#[ignore = "needs a cluster: BASEPLATE_E2E=1 make e2e"]
async fn diff_previews_a_platform_change_on_the_live_apps_and_changes_nothing() -> Result {
    let Some(env) = Env::start("diff").await? else {
        return Ok(());
    };
    let name = format!("{}-drain", env.namespace);
    let _cleanup = DeleteOnDrop::<Platform>::new(&name);
    let platforms = Api::<Platform>::all(env.client.clone());
    platforms
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&platform(&name, &env.namespace, 12)),
        )
        .await?;
    env.apply_app("api", web()).await?;
    env.apply_app("web", web()).await?;
    let deployments = env.api::<Deployment>();
    for app in ["api", "web"] {
        eventually("the Deployment follows the Platform", REACT, async || {
            let seconds = crate::pre_stop_sleep(&deployments.get(app).await?);
            ensure!(seconds == Some(12), "preStop sleep {seconds:?}");
            Ok(())
        })
        .await?;
    }

    let file = std::env::temp_dir().join(format!("{name}.yaml"));
    let write = |p: &Platform| -> Result {
        std::fs::write(&file, serde_json::to_string(p)?)?;
        Ok(())
    };

    write(&platform(&name, &env.namespace, 12))?;
    let (code, stdout, stderr) = diff(&file)?;
    ensure!(
        code == Some(0),
        "the same Platform: exit {code:?}\n{stdout}{stderr}"
    );
    ensure!(
        stdout.starts_with(&format!(
            "Platform {name}: 2 Apps selected in 1 namespace; 0 would change, 2 unchanged\n"
        )),
        "{stdout}"
    );

    write(&platform(&name, &env.namespace, 18))?;
    let (code, stdout, stderr) = diff(&file)?;
    ensure!(code == Some(1), "a change: exit {code:?}\n{stdout}{stderr}");
    ensure!(
        stdout.contains(
            "Deployment spec.template.spec.containers[name=app].lifecycle.preStop.sleep.seconds 12 -> 18: 2 Deployments in 1 namespace\n"
        ),
        "{stdout}"
    );
    let header = format!("+++ {}/Deployment/api (proposed)\n", env.namespace);
    ensure!(stdout.contains(&header), "{stdout}");

    // A preview only: the live Platform and the children are as they were.
    let live = platforms.get(&name).await?;
    ensure!(
        live.spec.defaults.pre_stop_sleep_seconds == Some(12),
        "the Platform changed"
    );
    for app in ["api", "web"] {
        let seconds = crate::pre_stop_sleep(&deployments.get(app).await?);
        ensure!(seconds == Some(12), "{app}: preStop sleep {seconds:?}");
    }
    let _ = std::fs::remove_file(&file);
    Ok(())
}
