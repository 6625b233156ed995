//! The same-work floor: what any App operator must make the API server do for N new Apps,
//! done directly by the harness with no operator running, at the harness's concurrency:
//! create the Apps, apply all their children, write one status per App. Convergence is held
//! against it (issue #14: ≤ 1.2 × the floor of the same run), besides the children-only
//! baseline, which leaves out the App creates and the status writes.

use std::time::Instant;

use baseplate_crd::{App, Children};
use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::baseline::passes;
use crate::cluster::apply_all;
use crate::report::Floor;
use crate::workload::{BASELINE_MANAGER, HARNESS_MANAGER, app_manifest};

/// A status of the size and shape the operator writes for a new App: the generation it saw,
/// its three conditions, the children and replicas.
pub fn status_document(app: &App, children: &Children) -> Value {
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message,
            "observedGeneration": 1,
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        })
    };
    json!({
        "apiVersion": "baseplate.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": app.name_any(), "namespace": app.namespace()},
        "status": {
            "observedGeneration": 1,
            "conditions": [
                condition("Ready", "False", "RolloutInProgress", "waiting for the Deployment's pods to become available (0/2 ready)"),
                condition("Progressing", "True", "RolloutInProgress", "the Deployment is rolling out the current version"),
                condition("Degraded", "False", "AsExpected", "every child was applied"),
            ],
            "replicas": 2,
            "readyReplicas": 0,
            "updatedReplicas": 0,
            "replicasSummary": "0/2",
            "children": children.names(),
        },
    })
}

pub async fn run(
    client: &Client,
    apps: &[App],
    children: &[Children],
    concurrency: usize,
) -> anyhow::Result<Floor> {
    let started = Instant::now();
    apply_all(
        client,
        apps.iter().map(app_manifest).collect(),
        HARNESS_MANAGER,
        concurrency,
    )
    .await?;
    let apps_seconds = started.elapsed().as_secs_f64();

    let children_started = Instant::now();
    let mut objects = 0;
    for pass in passes(children) {
        objects += apply_all(client, pass, BASELINE_MANAGER, concurrency).await?;
    }
    let children_seconds = children_started.elapsed().as_secs_f64();

    let status_started = Instant::now();
    let params = PatchParams::apply(FLOOR_STATUS_MANAGER).force();
    stream::iter(apps.iter().zip(children))
        .map(|(app, children)| {
            let api = Api::<App>::namespaced(client.clone(), &app.namespace().unwrap_or_default());
            let document = status_document(app, children);
            let params = params.clone();
            async move {
                api.patch_status(&app.name_any(), &params, &Patch::Apply(&document))
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_for_each(|()| futures::future::ready(Ok(())))
        .await?;
    let status_seconds = status_started.elapsed().as_secs_f64();
    let floor = Floor {
        apps_seconds,
        children_seconds,
        status_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
        objects,
    };
    tracing::info!(
        ?floor,
        "same-work floor: Apps created, children applied, statuses written"
    );
    Ok(floor)
}

/// Field manager of the floor's status writes.
pub const FLOOR_STATUS_MANAGER: &str = "baseplate-load-floor";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload;

    #[test]
    fn the_status_names_the_apps_seven_children_at_generation_one() {
        let apps = workload::apps(1, 1);
        let children = workload::render_all(&apps).unwrap();
        let status = status_document(&apps[0], &children[0]);
        assert_eq!(status["metadata"]["name"], "app-00000");
        assert_eq!(status["status"]["observedGeneration"], 1);
        assert_eq!(status["status"]["children"].as_array().unwrap().len(), 7);
        let types: Vec<&str> = status["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["Ready", "Progressing", "Degraded"]);
    }
}
