//! Phase 1: the API server's own speed limit. Every child of every App, rendered offline,
//! applied directly with server-side apply from one client with bounded concurrency, in the
//! operator's order: ConfigMaps and Secrets, then Deployments (timed on their own), then the rest;
//! then the Deployments once more, as the Platform change will have the operator update them.

use std::time::Instant;

use baseplate_crd::Children;
use kube::Client;
use serde_json::Value;

use crate::cluster::apply_all;
use crate::report::Baseline;
use crate::workload::BASELINE_MANAGER;

/// The children's JSON split into the three apply passes.
pub fn passes(children: &[Children]) -> [Vec<Value>; 3] {
    let mut config = Vec::new();
    let mut deployments = Vec::new();
    let mut rest = Vec::new();
    for value in children.iter().flat_map(Children::to_values) {
        match value["kind"].as_str() {
            Some("ConfigMap" | "Secret") => config.push(value),
            Some("Deployment") => deployments.push(value),
            _ => rest.push(value),
        }
    }
    [config, deployments, rest]
}

pub async fn run(
    client: &Client,
    children: &[Children],
    updated_deployments: Vec<Value>,
    concurrency: usize,
) -> anyhow::Result<Baseline> {
    let [config, deployments, rest] = passes(children);
    let started = Instant::now();
    let mut objects = apply_all(client, config, BASELINE_MANAGER, concurrency).await?;
    let config_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        objects,
        seconds = config_seconds,
        "baseline: ConfigMaps and Secrets applied"
    );

    let deployments_started = Instant::now();
    let count = apply_all(client, deployments, BASELINE_MANAGER, concurrency).await?;
    objects += count;
    let deployment_seconds = deployments_started.elapsed().as_secs_f64();
    tracing::info!(
        count,
        seconds = deployment_seconds,
        "baseline: Deployments applied"
    );

    let rest_started = Instant::now();
    objects += apply_all(client, rest, BASELINE_MANAGER, concurrency).await?;
    let rest_seconds = rest_started.elapsed().as_secs_f64();
    let total_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        objects,
        seconds = total_seconds,
        "baseline: every child applied"
    );

    let update_started = Instant::now();
    let count = apply_all(client, updated_deployments, BASELINE_MANAGER, concurrency).await?;
    let deployment_update_seconds = update_started.elapsed().as_secs_f64();
    tracing::info!(
        count,
        seconds = deployment_update_seconds,
        "baseline: Deployments updated as a Platform change would"
    );
    Ok(Baseline {
        objects,
        total_seconds,
        config_seconds,
        deployment_seconds,
        rest_seconds,
        deployment_update_seconds,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload;

    #[test]
    fn the_platform_change_moves_only_what_the_pre_stop_drives() {
        let apps = workload::apps(2, 1);
        let before = passes(&workload::render_all(&apps).unwrap())[1].clone();
        let after = workload::deployments_after_platform_change(&apps, 15).unwrap();
        assert_eq!(before.len(), after.len());
        let pod = |d: &Value| d["spec"]["template"]["spec"].clone();
        let sleep =
            |d: &Value| pod(d)["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"].clone();
        assert_eq!(sleep(&before[0]), workload::INITIAL_PRE_STOP_SECONDS);
        assert_eq!(sleep(&after[0]), 15);
        assert_eq!(before[0]["metadata"], after[0]["metadata"]);
    }

    #[test]
    fn passes_follow_the_operators_order() {
        let children = workload::render_all(&workload::apps(4, 2)).unwrap();
        let [config, deployments, rest] = passes(&children);
        assert_eq!(config.len(), 8);
        assert_eq!(deployments.len(), 4);
        assert_eq!(rest.len(), 16);
        assert!(deployments.iter().all(|d| d["kind"] == "Deployment"));
    }
}
