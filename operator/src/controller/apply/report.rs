//! What applying one App's children did, child by child.

use baseplate_crd::{ChildKind, ChildRef};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::Secret;

use crate::metrics::{ChildWrite, Metrics};

/// What applying one App's children did.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    pub created: Vec<ChildRef>,
    pub updated: Vec<ChildRef>,
    pub drift_corrected: Vec<ChildRef>,
    pub pruned: Vec<ChildRef>,
    /// Children not applied because a foreign object has their name.
    pub conflicts: Vec<ChildRef>,
    /// Children the API server refused for a reason retrying will not fix, with its words.
    pub refused: Vec<(ChildRef, String)>,
    /// Children applied moments ago that the cache does not show yet: this reconcile could
    /// not see them as they are, so it should look again soon.
    pub awaiting_cache: Vec<ChildRef>,
    /// The Deployment with its status: as the API server answered the apply, or as cached
    /// when nothing had to be applied.
    pub deployment: Option<Deployment>,
    /// The Secret as the API server answered its apply.
    pub secret: Option<Secret>,
    /// Where the current version's migration stands, when the App has one.
    pub migration: Option<super::migration::Migration>,
    /// The App's CronJobs with their status, as answered or cached.
    pub cron_jobs: Vec<CronJob>,
}

/// What syncing one child did.
#[derive(Debug, PartialEq)]
pub enum Change {
    None,
    AwaitingCache,
    Created,
    Updated,
    DriftCorrected,
    Pruned,
    Conflict,
    Refused(String),
}

impl Report {
    /// The cache does not show the Deployment as last applied yet, so neither is its rollout
    /// known.
    pub fn deployment_awaits_cache(&self) -> bool {
        self.awaiting_cache
            .iter()
            .any(|child| child.kind == ChildKind::Deployment)
    }

    /// Each refused child with the API server's words, as `Kind/name: message`.
    pub fn refusals(&self) -> Vec<String> {
        self.refused
            .iter()
            .map(|(child, message)| format!("{child}: {message}"))
            .collect()
    }

    pub fn record(&mut self, child: ChildRef, change: Change) {
        match change {
            Change::None => {}
            Change::AwaitingCache => self.awaiting_cache.push(child),
            Change::Created => self.created.push(child),
            Change::Updated => self.updated.push(child),
            Change::DriftCorrected => self.drift_corrected.push(child),
            Change::Pruned => self.pruned.push(child),
            Change::Conflict => self.conflicts.push(child),
            Change::Refused(message) => self.refused.push((child, message)),
        }
    }

    /// Counts the writes in `baseplate_child_writes_total`.
    pub fn record_writes(&self, metrics: &Metrics) {
        for (change, children) in [
            (ChildWrite::Created, &self.created),
            (ChildWrite::Updated, &self.updated),
            (ChildWrite::DriftCorrected, &self.drift_corrected),
            (ChildWrite::Pruned, &self.pruned),
        ] {
            metrics.record_child_writes(change, children.len());
        }
    }
}

/// `Kind/name` of each child, as messages and events name them.
pub fn labels(children: &[ChildRef]) -> Vec<String> {
    children.iter().map(ChildRef::to_string).collect()
}
