//! Phase 3: nothing changes for a minute, so the operator must write nothing. Counted twice:
//! its own write requests (/metrics, by verb) and the children's resourceVersions (LIST before
//! and after; a change is attributed to the operator when its managedFields entry moved).
//!
//! The kube-controller-manager keeps writing Deployment and HPA status for a while after the
//! children appear, and every such write wakes the operator. So first the cluster settles:
//! the phase waits until neither the children nor the operator's write counters moved for a
//! whole settle window (at most `settle_max`), and reports how long that took.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use baseplate_tests::operator::Operator;
use kube::Client;

use crate::cluster::versions;
use crate::measure::{diff_versions, writes};
use crate::readings::metrics_snapshot;
use crate::report::{Quiet, VersionDiffSummary};

/// Waits until neither the children nor the operator's write counters moved for a whole
/// `window`, for at most `max`. Returns the time it took and whether it settled.
pub async fn settle(
    client: &Client,
    operator: &Operator,
    namespaces: &HashSet<String>,
    window: Duration,
    max: Duration,
) -> anyhow::Result<(f64, bool)> {
    let started = Instant::now();
    while started.elapsed() < max {
        let metrics = metrics_snapshot(operator).await?;
        let before = versions(client, namespaces).await?;
        tokio::time::sleep(window).await;
        let after = versions(client, namespaces).await?;
        let delta = metrics.delta(&metrics_snapshot(operator).await?);
        let diff = diff_versions(&before, &after);
        if diff.is_empty() && writes(&delta.api_requests) == 0.0 {
            return Ok((started.elapsed().as_secs_f64(), true));
        }
        tracing::info!(
            children_changed = diff.changed.len(),
            by_operator = diff.changed_by_operator.len(),
            operator_writes = writes(&delta.api_requests),
            "settling"
        );
    }
    Ok((started.elapsed().as_secs_f64(), false))
}

/// Changes nothing for `quiet` and counts what the operator wrote meanwhile.
pub async fn run(
    client: &Client,
    operator: &Operator,
    namespaces: &HashSet<String>,
    quiet: Duration,
) -> anyhow::Result<Quiet> {
    tracing::info!(seconds = quiet.as_secs(), "quiet phase: changing nothing");
    let started = Instant::now();
    let metrics = metrics_snapshot(operator).await?;
    let before = versions(client, namespaces).await?;
    tokio::time::sleep(quiet.saturating_sub(started.elapsed())).await;
    let after = versions(client, namespaces).await?;
    let delta = metrics.delta(&metrics_snapshot(operator).await?);
    let diff = diff_versions(&before, &after);
    Ok(Quiet {
        seconds: started.elapsed().as_secs_f64(),
        writes: writes(&delta.api_requests),
        versions: VersionDiffSummary::from(&diff),
        ..Default::default()
    })
}
