//! The kinds of object an App is expanded into, and a typed reference to one of them.
//!
//! Every place that needs to know the child kinds (rendering, applying, pruning, caching,
//! status, events, RBAC, the load harness) goes through [`ChildKind`], so a kind added here
//! that one of them does not handle fails to compile (an exhaustive `match`) or fails a test
//! (the RBAC and apiVersion checks).

use std::fmt;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

/// A kind of child, in apply order: what the workload reads before the workload, the
/// migration before the workload that waits for it, the workload before what points at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChildKind {
    ConfigMap,
    Secret,
    /// The migration Job of one version, `<app>-migrate-<version>`.
    Job,
    Deployment,
    /// One per cron job, `<app>-<name>`.
    CronJob,
    Service,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    Ingress,
}

/// When a kind is applied relative to the others: every kind of one stage is applied at
/// once, after every kind of the stages before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApplyStage {
    /// What the workload reads.
    Inputs,
    /// The migration the workload waits for.
    Migration,
    /// The workload itself.
    Workload,
    /// What points at the workload.
    Exposure,
}

impl ChildKind {
    /// Every kind, in apply order.
    pub const ALL: [ChildKind; 9] = [
        ChildKind::ConfigMap,
        ChildKind::Secret,
        ChildKind::Job,
        ChildKind::Deployment,
        ChildKind::CronJob,
        ChildKind::Service,
        ChildKind::HorizontalPodAutoscaler,
        ChildKind::PodDisruptionBudget,
        ChildKind::Ingress,
    ];

    pub const fn kind(self) -> &'static str {
        match self {
            ChildKind::ConfigMap => "ConfigMap",
            ChildKind::Secret => "Secret",
            ChildKind::Job => "Job",
            ChildKind::Deployment => "Deployment",
            ChildKind::CronJob => "CronJob",
            ChildKind::Service => "Service",
            ChildKind::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            ChildKind::PodDisruptionBudget => "PodDisruptionBudget",
            ChildKind::Ingress => "Ingress",
        }
    }

    /// The API group, `""` for the core group.
    pub const fn group(self) -> &'static str {
        match self {
            ChildKind::ConfigMap | ChildKind::Secret | ChildKind::Service => "",
            ChildKind::Deployment => "apps",
            ChildKind::Job | ChildKind::CronJob => "batch",
            ChildKind::HorizontalPodAutoscaler => "autoscaling",
            ChildKind::PodDisruptionBudget => "policy",
            ChildKind::Ingress => "networking.k8s.io",
        }
    }

    pub const fn version(self) -> &'static str {
        match self {
            ChildKind::HorizontalPodAutoscaler => "v2",
            _ => "v1",
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(self) -> String {
        match self.group() {
            "" => self.version().to_string(),
            group => format!("{group}/{}", self.version()),
        }
    }

    /// The resource name in URLs and RBAC rules.
    pub const fn plural(self) -> &'static str {
        match self {
            ChildKind::ConfigMap => "configmaps",
            ChildKind::Secret => "secrets",
            ChildKind::Job => "jobs",
            ChildKind::Deployment => "deployments",
            ChildKind::CronJob => "cronjobs",
            ChildKind::Service => "services",
            ChildKind::HorizontalPodAutoscaler => "horizontalpodautoscalers",
            ChildKind::PodDisruptionBudget => "poddisruptionbudgets",
            ChildKind::Ingress => "ingresses",
        }
    }

    pub const fn stage(self) -> ApplyStage {
        match self {
            ChildKind::ConfigMap | ChildKind::Secret => ApplyStage::Inputs,
            ChildKind::Job => ApplyStage::Migration,
            ChildKind::Deployment | ChildKind::CronJob => ApplyStage::Workload,
            ChildKind::Service
            | ChildKind::HorizontalPodAutoscaler
            | ChildKind::PodDisruptionBudget
            | ChildKind::Ingress => ApplyStage::Exposure,
        }
    }

    /// The kind of a `kind` field, if it is a child kind.
    pub fn from_kind(kind: &str) -> Option<ChildKind> {
        ChildKind::ALL.into_iter().find(|k| k.kind() == kind)
    }

    /// A child of this kind of the App `app` in `namespace`: every child of a kind the App has
    /// one of has its App's name (Jobs and CronJobs have names of their own).
    pub fn of(self, namespace: &str, app: &str) -> ChildRef {
        ChildRef {
            kind: self,
            namespace: namespace.to_string(),
            name: app.to_string(),
        }
    }
}

impl fmt::Display for ChildKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

/// One child object: its kind, namespace and name. Displayed as `Kind/name`, the form the
/// App's `status.children`, events and messages use.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChildRef {
    pub kind: ChildKind,
    pub namespace: String,
    pub name: String,
}

impl ChildRef {
    /// Reads back a `Kind/name` label (as in `status.children`) in `namespace`.
    pub fn parse(namespace: &str, label: &str) -> Option<ChildRef> {
        let (kind, name) = label.split_once('/')?;
        Some(ChildRef {
            kind: ChildKind::from_kind(kind)?,
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for ChildRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// A Kubernetes type that Baseplate makes as a child: ties the Rust type to its [`ChildKind`].
pub trait ChildObject: k8s_openapi::Resource {
    const CHILD_KIND: ChildKind;
}

macro_rules! child_objects {
    ($($ty:ty => $kind:ident),* $(,)?) => {
        $(impl ChildObject for $ty {
            const CHILD_KIND: ChildKind = ChildKind::$kind;
        })*

        /// `(kind, apiVersion, plural)` of each Rust type, as k8s-openapi states them.
        #[cfg(test)]
        fn declared() -> Vec<(ChildKind, &'static str, &'static str, &'static str)> {
            vec![$((
                <$ty as ChildObject>::CHILD_KIND,
                <$ty as k8s_openapi::Resource>::KIND,
                <$ty as k8s_openapi::Resource>::API_VERSION,
                <$ty as k8s_openapi::Resource>::URL_PATH_SEGMENT,
            )),*]
        }
    };
}

child_objects! {
    ConfigMap => ConfigMap,
    Secret => Secret,
    Job => Job,
    Deployment => Deployment,
    CronJob => CronJob,
    Service => Service,
    HorizontalPodAutoscaler => HorizontalPodAutoscaler,
    PodDisruptionBudget => PodDisruptionBudget,
    Ingress => Ingress,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_matches_the_kubernetes_type_it_stands_for() {
        let declared = declared();
        assert_eq!(
            declared.iter().map(|d| d.0).collect::<Vec<_>>(),
            ChildKind::ALL,
            "one ChildObject per kind, in apply order"
        );
        for (kind, name, api_version, plural) in declared {
            assert_eq!(kind.kind(), name);
            assert_eq!(kind.api_version(), api_version);
            assert_eq!(kind.plural(), plural);
        }
    }

    #[test]
    fn apply_order_is_stage_order() {
        let stages: Vec<_> = ChildKind::ALL.iter().map(|k| k.stage()).collect();
        let mut sorted = stages.clone();
        sorted.sort();
        assert_eq!(stages, sorted);
    }

    #[test]
    fn a_label_reads_back_as_the_reference_it_came_from() {
        let child = ChildKind::HorizontalPodAutoscaler.of("shop", "api");
        assert_eq!(child.to_string(), "HorizontalPodAutoscaler/api");
        assert_eq!(ChildRef::parse("shop", &child.to_string()), Some(child));
        assert_eq!(ChildRef::parse("shop", "Pod/api"), None);
        assert_eq!(ChildRef::parse("shop", "Deployment"), None);
    }
}
