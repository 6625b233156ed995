//! Phase 5: the Apps are deleted and kube-controller-manager's garbage collector removes
//! their children through the owner references; timed until no child is left.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use baseplate_crd::App;
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Client, ResourceExt};

use baseplate_tests::wait::poll;

use crate::cluster::{CHILD_KINDS, load_selector, present};
use crate::report::Cleanup;

pub async fn run(
    client: &Client,
    namespaces: &HashSet<String>,
    interval: Duration,
    timeout: Duration,
) -> anyhow::Result<Cleanup> {
    let started = Instant::now();
    let mut sorted: Vec<&String> = namespaces.iter().collect();
    sorted.sort();
    for namespace in sorted {
        Api::<App>::namespaced(client.clone(), namespace)
            .delete_collection(
                &DeleteParams::background(),
                &ListParams::default().labels(&load_selector()),
            )
            .await?;
    }
    let apps = Api::<App>::all(client.clone());
    let mut empty: HashSet<&str> = HashSet::new();
    let mut apps_gone = false;
    let mut last_progress = Instant::now();
    poll("garbage collection", interval, timeout, async || {
        // One LIST per poll where possible: what is gone stays gone, so only the first kind
        // that still has objects is asked about.
        if !apps_gone {
            apps_gone = !apps
                .list_metadata(&ListParams::default().labels(&load_selector()))
                .await?
                .items
                .iter()
                .any(|a| a.namespace().is_some_and(|ns| namespaces.contains(&ns)));
        }
        let mut left = None;
        for kind in CHILD_KINDS {
            if empty.contains(kind) {
                continue;
            }
            let count = present(client, kind, namespaces).await?.len();
            if count == 0 {
                empty.insert(kind);
            } else {
                left = Some((kind, count));
                break;
            }
        }
        if last_progress.elapsed() >= Duration::from_secs(10) {
            last_progress = Instant::now();
            tracing::info!(
                apps_gone,
                ?left,
                kinds_empty = empty.len(),
                elapsed = started.elapsed().as_secs(),
                "cleaning up"
            );
        }
        Ok((apps_gone && left.is_none()).then_some(()))
    })
    .await?;
    Ok(Cleanup {
        seconds: started.elapsed().as_secs_f64(),
    })
}
