//! When an App is looked at again: after a success, on its resync period (jittered) or sooner
//! while something is pending; after a failure, with exponential backoff per App.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use baseplate_crd::App;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tracing::warn;

use super::apply::{CACHE_LAG_ALLOWANCE, Report};
use super::context::Context;
use super::error::Error;

/// Longest backoff after repeated transient failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Wait between checks while an object Baseplate does not own holds a child's name: its
/// deletion is not watched (it carries none of Baseplate's labels).
const CONFLICT_RECHECK: Duration = Duration::from_secs(30);

/// How a reconcile that did not fail ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Synced,
    /// Applied what could be, but a foreign object holds a child's name.
    Conflict,
    /// Children applied moments ago are not in the cache yet.
    AwaitingCache,
    /// Synced; a new pod that runs but is not ready yet uses up its readiness probe's
    /// allowance after this long, with nothing changing that would trigger a reconcile.
    AwaitingReadiness(Duration),
    Invalid,
    /// The App was deleted while it was reconciled (its status write found none).
    Gone,
}

impl Outcome {
    /// How a reconcile that synced the children ended; `readiness_due`: when a new pod's
    /// readiness allowance runs out.
    pub fn after_sync(report: &Report, readiness_due: Option<Duration>) -> Self {
        if !report.conflicts.is_empty() {
            Outcome::Conflict
        } else if !report.awaiting_cache.is_empty() {
            Outcome::AwaitingCache
        } else if let Some(due) = readiness_due {
            Outcome::AwaitingReadiness(due)
        } else {
            Outcome::Synced
        }
    }

    /// The `result` label of `baseplate_reconciles_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Synced => "synced",
            Outcome::Conflict => "conflict",
            Outcome::AwaitingCache => "awaiting_cache",
            Outcome::AwaitingReadiness(_) => "awaiting_readiness",
            Outcome::Invalid => "invalid",
            Outcome::Gone => "gone",
        }
    }
}

/// The next look at an App whose reconcile ended with `outcome`; its failures are forgotten.
pub fn after_success(guard: &DeserializeGuard<App>, outcome: Outcome, ctx: &Context) -> Action {
    ctx.failures
        .lock()
        .expect("lock")
        .remove(&ObjectRef::from_obj(guard));
    match outcome {
        // Nothing to retry: the next change to the App or a Platform triggers a reconcile.
        Outcome::Invalid => Action::await_change(),
        // Its deletion reached the watch, or soon will: nothing is left to look at.
        Outcome::Gone => Action::await_change(),
        Outcome::Conflict => Action::requeue(CONFLICT_RECHECK),
        // The watch normally triggers the next reconcile well before this.
        Outcome::AwaitingCache => Action::requeue(CACHE_LAG_ALLOWANCE),
        Outcome::AwaitingReadiness(due) => {
            Action::requeue(due.min(jittered(ctx.settings.resync, guard)))
        }
        Outcome::Synced => Action::requeue(jittered(ctx.settings.resync, guard)),
    }
}

/// Transient errors back off exponentially per App: 1 s, 2 s, 4 s ... up to 5 minutes.
pub fn error_policy(guard: Arc<DeserializeGuard<App>>, error: &Error, ctx: Arc<Context>) -> Action {
    let mut failures = ctx.failures.lock().expect("lock");
    let count = failures
        .entry(ObjectRef::from_obj(guard.as_ref()))
        .or_insert(0);
    *count = count.saturating_add(1);
    let delay = backoff(*count);
    warn!(app = %guard.name_any(), namespace = guard.namespace().unwrap_or_default(), error = %error, category = error.category(), retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn backoff(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF)
}

/// Spreads resyncs of many Apps over time instead of all at once.
fn jittered(resync: Duration, guard: &DeserializeGuard<App>) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    guard.meta().uid.hash(&mut hasher);
    let tenth = resync.as_millis() as u64 / 10;
    resync
        + Duration::from_millis(if tenth == 0 {
            0
        } else {
            hasher.finish() % tenth
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let seconds: Vec<u64> = [1, 2, 3, 9, 10, u32::MAX]
            .into_iter()
            .map(|failures| backoff(failures).as_secs())
            .collect();
        assert_eq!(seconds, [1, 2, 4, 256, 300, 300]);
    }

    #[test]
    fn resyncs_are_spread_over_a_tenth_of_the_period() {
        let resync = Duration::from_secs(600);
        let delays: Vec<Duration> = (0..50)
            .map(|i| {
                let mut app = App::new(
                    "a",
                    serde_json::from_value(serde_json::json!({"image": "nginx"})).unwrap(),
                );
                app.metadata.uid = Some(format!("uid-{i}"));
                jittered(resync, &DeserializeGuard(Ok(app)))
            })
            .collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= resync && *d < resync + resync / 10)
        );
        assert!(delays.iter().any(|d| *d != delays[0]), "not all the same");
    }
}
