//! Standing in for the kubelet and the scheduler: the suite writes pod statuses through the
//! `pods/status` subresource, as they would, so that what the operator makes of them can be
//! checked on any cluster, with nodes or without. Only pods no node runs are written to (a
//! node's kubelet, or kwok, would overwrite them); an App asking for more cpu than any node
//! has gets such pods.

use anyhow::ensure;
use baseplate_crd::labels;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::Result;
use crate::env::{Env, MANAGER, REACT};
use crate::wait::eventually;

/// The App's pods once `count` exist, none of them on a node.
pub async fn unscheduled_pods(env: &Env, app: &str, count: usize) -> Result<Vec<Pod>> {
    let pods = env.api::<Pod>();
    let selector = ListParams::default().labels(&format!("{}={app}", labels::APP));
    eventually(&format!("{count} pods of App {app}"), REACT, async || {
        let listed = pods.list(&selector).await?.items;
        let live: Vec<Pod> = listed
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        ensure!(live.len() == count, "{} pods", live.len());
        for pod in &live {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
            ensure!(
                node.is_none(),
                "pod on node {node:?}: its kubelet writes its status"
            );
        }
        Ok(live)
    })
    .await
}

/// Writes the container statuses of `pod` (`null` removes them), as the kubelet does.
pub async fn write_container_statuses(api: &Api<Pod>, pod: &Pod, statuses: Value) -> Result {
    let name = pod.metadata.name.clone().unwrap_or_default();
    api.patch_status(
        &name,
        &PatchParams::apply(MANAGER),
        &Patch::Merge(json!({"status": {"containerStatuses": statuses}})),
    )
    .await?;
    Ok(())
}

/// Marks `pod` unschedulable, as the scheduler does (a cluster without one leaves the pod
/// without the condition); the scheduler may write its own words over these.
pub async fn write_unschedulable(api: &Api<Pod>, pod: &Pod, message: &str) -> Result {
    let name = pod.metadata.name.clone().unwrap_or_default();
    api.patch_status(
        &name,
        &PatchParams::apply(MANAGER),
        &Patch::Strategic(json!({"status": {"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
        }]}})),
    )
    .await?;
    Ok(())
}

/// What the scheduler last said about `pod`.
pub fn scheduler_message(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("Unschedulable"))?
        .message
        .clone()
}

/// The live pods of the Job with this UID (its controller labels them with it), once there are
/// some, none of them on a node.
pub async fn unscheduled_job_pods(env: &Env, job_uid: &str) -> Result<Vec<Pod>> {
    let pods = env.api::<Pod>();
    let selector =
        ListParams::default().labels(&format!("batch.kubernetes.io/controller-uid={job_uid}"));
    eventually(&format!("pods of the Job {job_uid}"), REACT, async || {
        let live: Vec<Pod> = pods
            .list(&selector)
            .await?
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        ensure!(!live.is_empty(), "no pod yet");
        for pod in &live {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
            ensure!(
                node.is_none(),
                "pod on node {node:?}: its kubelet writes its status"
            );
        }
        Ok(live)
    })
    .await
}

/// Ends `pod` as the kubelet does when its one container exits with `exit_code`: phase
/// Succeeded for 0, Failed otherwise, the container terminated with that code.
pub async fn write_exit(api: &Api<Pod>, pod: &Pod, exit_code: i32) -> Result {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let container = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .unwrap_or_default();
    let (phase, reason) = if exit_code == 0 {
        ("Succeeded", "Completed")
    } else {
        ("Failed", "Error")
    };
    api.patch_status(
        &name,
        &PatchParams::apply(MANAGER),
        &Patch::Merge(json!({"status": {
            "phase": phase,
            "containerStatuses": [{
                "name": container.0,
                "image": container.1,
                "imageID": "",
                "ready": false,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": exit_code, "reason": reason}},
            }],
        }})),
    )
    .await?;
    Ok(())
}
