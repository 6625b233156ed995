//! The HorizontalPodAutoscaler and the PodDisruptionBudget.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::ChildMeta;
use crate::child::ChildKind;
use crate::settings::{HpaSettings, Settings};

pub(super) fn horizontal_pod_autoscaler(
    settings: &Settings,
    meta: &ChildMeta,
) -> Option<HorizontalPodAutoscaler> {
    let hpa = settings.autoscaling.as_ref()?;
    Some(HorizontalPodAutoscaler {
        metadata: meta.object_meta(),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some(ChildKind::Deployment.api_version()),
                kind: ChildKind::Deployment.kind().into(),
                name: meta.name.clone(),
            },
            min_replicas: Some(hpa.min_replicas),
            max_replicas: hpa.max_replicas,
            metrics: Some(metrics(hpa)),
            behavior: hpa.behavior.clone(),
        }),
        status: None,
    })
}

/// CPU, then memory, then the extra metrics as given.
fn metrics(hpa: &HpaSettings) -> Vec<MetricSpec> {
    let utilization = |name: &str, percent: i32| MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: name.into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(percent),
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    hpa.target_cpu_utilization_percentage
        .map(|p| utilization("cpu", p))
        .into_iter()
        .chain(
            hpa.target_memory_utilization_percentage
                .map(|p| utilization("memory", p)),
        )
        .chain(hpa.metrics.iter().cloned())
        .collect()
}

pub(super) fn pod_disruption_budget(
    settings: &Settings,
    meta: &ChildMeta,
) -> Option<PodDisruptionBudget> {
    let max_unavailable = settings.pdb_max_unavailable.clone()?;
    Some(PodDisruptionBudget {
        metadata: meta.object_meta(),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(max_unavailable),
            selector: Some(LabelSelector {
                match_labels: Some(meta.selector()),
                match_expressions: None,
            }),
            // Pods that are not ready protect nothing; letting drains evict them avoids stuck nodes.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".into()),
            min_available: None,
        }),
        status: None,
    })
}
