//! Phase 4: one Platform change reaches every App. A Platform with
//! `defaults.preStopSleepSeconds: 15` (selecting the load namespaces) is created, and every
//! second one LIST of the Deployments counts those whose containers all sleep 15 s in preStop.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams};
use kube::core::PartialObjectMeta;
use kube::{Client, ResourceExt};

use super::cluster::{children_selector, create_platform, poll};
use super::report::PlatformChange;

/// Whether every container of the Deployment's pod template sleeps `seconds` in preStop.
pub fn has_pre_stop_sleep(deployment: &Deployment, seconds: i64) -> bool {
    let containers = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    !containers.is_empty()
        && containers.iter().all(|c| {
            c.lifecycle
                .as_ref()
                .and_then(|l| l.pre_stop.as_ref())
                .and_then(|p| p.sleep.as_ref())
                .is_some_and(|s| s.seconds == seconds)
        })
}

pub async fn run(
    client: &Client,
    namespaces: &HashSet<String>,
    expected: usize,
    pre_stop_seconds: i64,
    interval: Duration,
    timeout: Duration,
) -> anyhow::Result<PlatformChange> {
    let api = Api::<Deployment>::all(client.clone());
    let selector = children_selector();
    let generations =
        |list: Vec<PartialObjectMeta<Deployment>>| -> BTreeMap<(String, String), i64> {
            list.into_iter()
                .filter(|d| d.namespace().is_some_and(|ns| namespaces.contains(&ns)))
                .map(|d| {
                    (
                        (d.namespace().unwrap_or_default(), d.name_any()),
                        d.metadata.generation.unwrap_or(0),
                    )
                })
                .collect()
        };
    let before = generations(
        api.list_metadata(&ListParams::default().labels(&selector))
            .await?
            .items,
    );
    let started = Instant::now();
    create_platform(client, pre_stop_seconds).await?;
    let mut last_progress = Instant::now();
    let deployments = poll("Platform change", interval, timeout, async || {
        // A metadata LIST is cheap; the full one (pod templates and all) is read only once
        // every Deployment's spec has changed since the Platform came, to check what changed.
        let moved = generations(
            api.list_metadata(&ListParams::default().labels(&selector))
                .await?
                .items,
        )
        .iter()
        .filter(|(key, generation)| before.get(*key).is_none_or(|g| *generation > g))
        .count();
        let updated = if moved >= expected {
            api.list(&ListParams::default().labels(&selector))
                .await?
                .items
                .iter()
                .filter(|d| d.namespace().is_some_and(|ns| namespaces.contains(&ns)))
                .filter(|d| has_pre_stop_sleep(d, pre_stop_seconds))
                .count()
        } else {
            0
        };
        if last_progress.elapsed() >= Duration::from_secs(10) {
            last_progress = Instant::now();
            tracing::info!(
                moved,
                updated,
                of = expected,
                elapsed = started.elapsed().as_secs(),
                "Platform change"
            );
        }
        Ok((updated >= expected).then_some(updated))
    })
    .await?;
    Ok(PlatformChange {
        seconds: started.elapsed().as_secs_f64(),
        deployments,
    })
}

#[cfg(test)]
mod tests {
    use super::super::workload;
    use super::*;

    #[test]
    fn reads_the_pre_stop_sleep() {
        let children = workload::render_all(&workload::apps(1, 1)).unwrap();
        let mut deployment = children[0].deployment.clone();
        // The built-in default.
        assert!(has_pre_stop_sleep(&deployment, 10));
        assert!(!has_pre_stop_sleep(&deployment, 15));
        fn container(d: &mut Deployment) -> &mut k8s_openapi::api::core::v1::Container {
            &mut d
                .spec
                .as_mut()
                .unwrap()
                .template
                .spec
                .as_mut()
                .unwrap()
                .containers[0]
        }
        let lifecycle = container(&mut deployment).lifecycle.as_mut().unwrap();
        lifecycle
            .pre_stop
            .as_mut()
            .unwrap()
            .sleep
            .as_mut()
            .unwrap()
            .seconds = 15;
        assert!(has_pre_stop_sleep(&deployment, 15));
        container(&mut deployment).lifecycle = None;
        assert!(!has_pre_stop_sleep(&deployment, 15));
        assert!(!has_pre_stop_sleep(&Deployment::default(), 15));
    }
}
