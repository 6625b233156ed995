//! Operator restart with N converged Apps: the operator is stopped (SIGTERM) and started
//! again, then watched for a window. An operator that can tell from what it reads that every
//! child is up to date writes nothing and sends little beyond its LISTs and WATCHes
//! (issue #14: zero writes, every App reconciled within 30 s of the start).

use std::time::{Duration, Instant};

use baseplate_tests::operator::{Operator, Settings};

use crate::measure::{MetricsSnapshot, WRITE_VERBS};
use crate::readings::metrics_snapshot;
use crate::report::Restart;

/// The restarted operator's requests, from its own counters since it started.
pub fn summarize(
    apps: usize,
    totals: &MetricsSnapshot,
    reconciled_after: Option<f64>,
    window: f64,
) -> Restart {
    let requests = &totals.api_requests;
    let count = |verbs: &[&str]| -> f64 { verbs.iter().filter_map(|v| requests.get(*v)).sum() };
    let all: f64 = requests.values().sum();
    Restart {
        apps,
        window_seconds: window,
        every_app_reconciled_seconds: reconciled_after,
        writes: count(&WRITE_VERBS),
        requests_beyond_list_and_watch: all - count(&["list", "watch"]),
        requests: requests.clone(),
        child_writes: totals.child_writes.clone(),
        ..Default::default()
    }
}

fn reconciles(snapshot: &MetricsSnapshot) -> f64 {
    snapshot.reconciles.values().sum()
}

/// Stops `operator`, starts a new one with `settings`, and watches it for `window`.
pub async fn run(
    operator: &mut Operator,
    settings: &Settings,
    apps: usize,
    window: Duration,
) -> anyhow::Result<(Operator, Restart)> {
    operator.stop()?;
    let started = Instant::now();
    let mut restarted = Operator::start(settings)?;
    let ready = restarted.wait_until_ready(Duration::from_secs(120)).await?;
    let mut reconciled_after = None;
    while started.elapsed() < window {
        if reconciled_after.is_none() {
            let snapshot = metrics_snapshot(&restarted).await?;
            if reconciles(&snapshot) >= apps as f64 {
                reconciled_after = Some(started.elapsed().as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let totals = metrics_snapshot(&restarted).await?;
    let mut restart = summarize(apps, &totals, reconciled_after, window.as_secs_f64());
    restart.ready_seconds = ready.as_secs_f64();
    tracing::info!(?restart, "operator restarted with every App converged");
    Ok((restarted, restart))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Counters;

    #[test]
    fn writes_and_requests_beyond_lists_and_watches_are_counted_apart() {
        let totals = MetricsSnapshot {
            api_requests: Counters::from([
                ("list".into(), 9.0),
                ("watch".into(), 9.0),
                ("patch".into(), 7000.0),
                ("get".into(), 2.0),
            ]),
            reconciles: Counters::from([("synced".into(), 1000.0)]),
            ..Default::default()
        };
        let restart = summarize(1000, &totals, Some(4.5), 30.0);
        assert_eq!(restart.writes, 7000.0);
        assert_eq!(restart.requests_beyond_list_and_watch, 7002.0);
        assert_eq!(restart.every_app_reconciled_seconds, Some(4.5));
    }
}
