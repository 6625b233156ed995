//! Phase 2: the operator from a standing start. The Apps are created, then every second one
//! LIST per child kind (only kinds still incomplete) and one of the Apps tell how many Apps
//! have all their children and a status for their current generation.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use baseplate_crd::App;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use baseplate_tests::wait::poll;

use crate::cluster::{CHILD_KINDS, apply_all, load_selector, present};
use crate::report::Convergence;
use crate::workload::{HARNESS_MANAGER, app_manifest};

type Key = (String, String);

/// Apps (of `expected`) that have every child kind present and a current status.
pub fn converged_count(
    expected: &[Key],
    present: &BTreeMap<&str, HashSet<Key>>,
    observed: &HashSet<Key>,
) -> usize {
    expected
        .iter()
        .filter(|key| observed.contains(*key) && present.values().all(|set| set.contains(*key)))
        .count()
}

/// Whether the operator has written a status for the App's current spec.
pub fn status_is_current(app: &App) -> bool {
    let generation = app.metadata.generation;
    generation.is_some() && app.status.as_ref().and_then(|s| s.observed_generation) == generation
}

pub async fn run(
    client: &Client,
    apps: &[App],
    namespaces: &HashSet<String>,
    concurrency: usize,
    interval: Duration,
    timeout: Duration,
) -> anyhow::Result<Convergence> {
    let expected: Vec<Key> = apps
        .iter()
        .map(|a| (a.namespace().unwrap_or_default(), a.name_any()))
        .collect();
    let started = Instant::now();
    apply_all(
        client,
        apps.iter().map(app_manifest).collect(),
        HARNESS_MANAGER,
        concurrency,
    )
    .await?;
    let apps_created_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        apps = apps.len(),
        seconds = apps_created_seconds,
        "Apps created"
    );

    let api = Api::<App>::all(client.clone());
    let mut seen: BTreeMap<&str, HashSet<Key>> = BTreeMap::new();
    let mut complete: HashSet<&str> = HashSet::new();
    let mut polls = 0u64;
    let mut last_progress = Instant::now();
    let all: HashSet<&Key> = expected.iter().collect();
    poll("convergence", interval, timeout, async || {
        polls += 1;
        // The polls load the same API server the operator works against, so each asks as
        // little as it can: kinds last in the operator's apply order first, stopping at the
        // first kind still incomplete, and the Apps only once every child exists.
        let mut children_done = true;
        for kind in CHILD_KINDS.iter().rev() {
            if complete.contains(kind) {
                continue;
            }
            let found = present(client, kind, namespaces).await?;
            let done = all.iter().all(|k| found.contains(*k));
            seen.insert(kind, found);
            if done {
                complete.insert(kind);
            } else {
                children_done = false;
                break;
            }
        }
        let progress = last_progress.elapsed() >= Duration::from_secs(10);
        if progress {
            last_progress = Instant::now();
            let kinds: BTreeMap<&str, usize> = seen.iter().map(|(k, v)| (*k, v.len())).collect();
            tracing::info!(
                ?kinds,
                complete = complete.len(),
                elapsed = started.elapsed().as_secs(),
                "converging: children"
            );
        }
        if !children_done {
            return Ok(None);
        }
        let observed: HashSet<Key> = api
            .list(&ListParams::default().labels(&load_selector()))
            .await?
            .items
            .iter()
            .filter(|a| status_is_current(a))
            .map(|a| (a.namespace().unwrap_or_default(), a.name_any()))
            .collect();
        let done = converged_count(&expected, &seen, &observed);
        if progress {
            tracing::info!(
                converged = done,
                of = expected.len(),
                "converging: statuses"
            );
        }
        Ok((done == expected.len()).then_some(()))
    })
    .await?;
    Ok(Convergence {
        apps_created_seconds,
        seconds: started.elapsed().as_secs_f64(),
        polls,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use baseplate_crd::AppStatus;

    fn key(name: &str) -> Key {
        ("load-0".into(), name.into())
    }

    #[test]
    fn counts_apps_with_every_child_and_a_current_status() {
        let expected = vec![key("a"), key("b"), key("c")];
        let present = BTreeMap::from([
            ("ConfigMap", HashSet::from([key("a"), key("b"), key("c")])),
            ("Deployment", HashSet::from([key("a"), key("b")])),
        ]);
        let observed = HashSet::from([key("a"), key("c")]);
        assert_eq!(converged_count(&expected, &present, &observed), 1);
        assert_eq!(converged_count(&expected, &BTreeMap::new(), &observed), 2);
    }

    #[test]
    fn status_must_match_the_generation() {
        let mut app = App::new("a", Default::default());
        assert!(!status_is_current(&app));
        app.metadata.generation = Some(2);
        app.status = Some(AppStatus {
            observed_generation: Some(1),
            ..Default::default()
        });
        assert!(!status_is_current(&app));
        app.status.as_mut().unwrap().observed_generation = Some(2);
        assert!(status_is_current(&app));
    }
}
