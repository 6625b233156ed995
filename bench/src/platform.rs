//! Phase 4: one Platform change reaches every App. The load Platform's
//! `defaults.preStopSleepSeconds` is changed, and a watch on the load Deployments (opened
//! before the change) tells the moment the last of them has every container sleeping that
//! long in preStop. A watch, not LIST polls: polls would load the API server being measured
//! and round the time up to the poll interval.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

use crate::cluster::{apply_platform, children_selector};
use crate::report::PlatformChange;

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

/// Which of the expected Deployments carry the new preStop, from what the watch delivers.
#[derive(Debug, Default)]
pub struct Rollout {
    expected: HashSet<(String, String)>,
    updated: HashSet<(String, String)>,
    pre_stop_seconds: i64,
}

impl Rollout {
    pub fn new(expected: HashSet<(String, String)>, pre_stop_seconds: i64) -> Self {
        Self {
            expected,
            updated: HashSet::new(),
            pre_stop_seconds,
        }
    }

    /// Takes in one Deployment as the watch delivers it; true once all expected carry it.
    pub fn observe(&mut self, deployment: &Deployment) -> bool {
        let key = (
            deployment.namespace().unwrap_or_default(),
            deployment.name_any(),
        );
        if self.expected.contains(&key) {
            if has_pre_stop_sleep(deployment, self.pre_stop_seconds) {
                self.updated.insert(key);
            } else {
                self.updated.remove(&key);
            }
        }
        self.done()
    }

    pub fn done(&self) -> bool {
        self.updated.len() >= self.expected.len()
    }

    pub fn updated(&self) -> usize {
        self.updated.len()
    }
}

pub async fn run(
    client: &Client,
    expected: HashSet<(String, String)>,
    pre_stop_seconds: i64,
    timeout: Duration,
) -> anyhow::Result<PlatformChange> {
    let api = Api::<Deployment>::all(client.clone());
    let config = watcher::Config::default().labels(&children_selector());
    let mut events = watcher(api, config).boxed();
    // The watch is open (its initial list delivered) before the Platform changes.
    while let Some(event) = events.try_next().await? {
        if matches!(event, watcher::Event::InitDone) {
            break;
        }
    }
    let mut rollout = Rollout::new(expected, pre_stop_seconds);
    let started = Instant::now();
    apply_platform(client, pre_stop_seconds).await?;
    let mut last_progress = Instant::now();
    let watching = async {
        while let Some(event) = events.try_next().await? {
            let done = match &event {
                watcher::Event::Apply(d) | watcher::Event::InitApply(d) => rollout.observe(d),
                _ => rollout.done(),
            };
            if done {
                return Ok::<_, anyhow::Error>(());
            }
            if last_progress.elapsed() >= Duration::from_secs(10) {
                last_progress = Instant::now();
                tracing::info!(
                    updated = rollout.updated(),
                    elapsed = started.elapsed().as_secs(),
                    "Platform change"
                );
            }
        }
        anyhow::bail!("the Deployment watch ended")
    };
    tokio::time::timeout(timeout, watching)
        .await
        .map_err(|_| {
            anyhow::anyhow!("Platform change: not every Deployment updated in {timeout:?}")
        })??;
    Ok(PlatformChange {
        seconds: started.elapsed().as_secs_f64(),
        deployments: rollout.updated(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload;

    #[test]
    fn the_rollout_is_done_when_every_expected_deployment_carries_the_new_pre_stop() {
        let children = workload::render_all(&workload::apps(2, 1)).unwrap();
        let expected: HashSet<(String, String)> = children
            .iter()
            .map(|c| {
                (
                    c.deployment
                        .as_ref()
                        .unwrap()
                        .namespace()
                        .unwrap_or_default(),
                    c.deployment.as_ref().unwrap().name_any(),
                )
            })
            .collect();
        let mut rollout = Rollout::new(expected, workload::INITIAL_PRE_STOP_SECONDS);
        assert!(!rollout.observe(children[0].deployment.as_ref().unwrap()));
        let mut stranger = children[1].deployment.clone().unwrap();
        stranger.metadata.name = Some("not-a-load-app".into());
        assert!(
            !rollout.observe(&stranger),
            "only expected Deployments count"
        );
        assert!(rollout.observe(children[1].deployment.as_ref().unwrap()));
        assert_eq!(rollout.updated(), 2);
    }

    #[test]
    fn a_deployment_changed_back_no_longer_counts() {
        let children = workload::render_all(&workload::apps(1, 1)).unwrap();
        let mut deployment = children[0].deployment.clone().unwrap();
        let key = (
            deployment.namespace().unwrap_or_default(),
            deployment.name_any(),
        );
        let mut rollout = Rollout::new(HashSet::from([key]), workload::INITIAL_PRE_STOP_SECONDS);
        assert!(rollout.observe(&deployment));
        container(&mut deployment).lifecycle = None;
        assert!(!rollout.observe(&deployment));
    }

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

    #[test]
    fn reads_the_pre_stop_sleep() {
        let children = workload::render_all(&workload::apps(1, 1)).unwrap();
        let mut deployment = children[0].deployment.clone().unwrap();
        // The built-in default.
        assert!(has_pre_stop_sleep(
            &deployment,
            workload::INITIAL_PRE_STOP_SECONDS
        ));
        assert!(!has_pre_stop_sleep(&deployment, 15));
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
