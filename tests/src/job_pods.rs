//! Who ends a Job's pods in this cluster. Where a node can take them, its kubelet runs the
//! image and the command's exit code decides (`sh -c "exit 1"` fails); where none can, the
//! suite ends them through `pods/status` as a kubelet would. Either way the Job and CronJob
//! controllers of the cluster take it from there.

use anyhow::bail;
use baseplate_crd::app::Resources;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::Result;
use crate::env::Env;
use crate::kubelet::{unscheduled_job_pods, write_exit};

/// Overrides the choice `JobPods::of` makes from the nodes: `nodes` or `suite`.
pub const OVERRIDE: &str = "BASEPLATE_E2E_JOB_PODS";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobPods {
    /// The cluster's nodes run them: the command's exit code is the outcome.
    RunByNodes,
    /// No node takes them (they ask for more cpu than any node has): the suite ends them.
    EndedByTheSuite,
}

impl JobPods {
    /// Nodes run the pods when a node with a kubelet is Ready and takes ordinary pods, unless
    /// `OVERRIDE` says.
    pub async fn of(env: &Env) -> Result<JobPods> {
        match std::env::var(OVERRIDE).as_deref() {
            Ok("nodes") => return Ok(JobPods::RunByNodes),
            Ok("suite") => return Ok(JobPods::EndedByTheSuite),
            Ok(other) => bail!("{OVERRIDE}={other}: use `nodes` or `suite`"),
            Err(_) => {}
        }
        let nodes = Api::<Node>::all(env.client.clone())
            .list(&ListParams::default())
            .await?
            .items;
        Ok(if nodes.iter().any(takes_ordinary_pods) {
            JobPods::RunByNodes
        } else {
            JobPods::EndedByTheSuite
        })
    }

    /// Resources for the App: small where nodes run the pods, more cpu than any node has
    /// where the suite ends them (a node's kubelet would overwrite what the suite writes).
    pub fn resources(self) -> Resources {
        Resources {
            cpu: Some(match self {
                JobPods::RunByNodes => "10m".into(),
                JobPods::EndedByTheSuite => "1000".into(),
            }),
            memory: Some("64Mi".into()),
            ..Default::default()
        }
    }

    /// Ends the (first) pod of the Job with this UID with `exit_code`, which must be the one
    /// its command exits with (`exit_command`): where nodes run it, they already do.
    pub async fn end(self, env: &Env, job_uid: &str, exit_code: i32) -> Result {
        if self == JobPods::EndedByTheSuite {
            let pods = unscheduled_job_pods(env, job_uid).await?;
            write_exit(&env.api::<Pod>(), &pods[0], exit_code).await?;
        }
        Ok(())
    }
}

/// A command that exits with `code` in any image with a POSIX shell.
pub fn exit_command(code: i32) -> Vec<String> {
    vec!["sh".into(), "-c".into(), format!("exit {code}")]
}

/// kwok's fake nodes run no containers: by default they end every Job pod with exit 0.
const KWOK_NODE: &str = "kwok.x-k8s.io/node";

fn takes_ordinary_pods(node: &Node) -> bool {
    if node.annotations().contains_key(KWOK_NODE) {
        return false;
    }
    let spec = node.spec.clone().unwrap_or_default();
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let tainted = spec
        .taints
        .iter()
        .flatten()
        .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute");
    ready && !spec.unschedulable.unwrap_or(false) && !tainted
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec, NodeStatus, Taint};

    fn node(ready: &str, unschedulable: bool, taint: Option<&str>) -> Node {
        Node {
            spec: Some(NodeSpec {
                unschedulable: Some(unschedulable),
                taints: taint.map(|effect| {
                    vec![Taint {
                        key: "dedicated".into(),
                        effect: effect.into(),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: ready.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn only_a_ready_untainted_schedulable_node_takes_the_pods() {
        assert!(takes_ordinary_pods(&node("True", false, None)));
        assert!(takes_ordinary_pods(&node(
            "True",
            false,
            Some("PreferNoSchedule")
        )));
        assert!(!takes_ordinary_pods(&node("False", false, None)));
        assert!(!takes_ordinary_pods(&node("True", true, None)));
        assert!(!takes_ordinary_pods(&node(
            "True",
            false,
            Some("NoSchedule")
        )));
        assert!(!takes_ordinary_pods(&Node::default()));
        let mut fake = node("True", false, None);
        fake.annotations_mut()
            .insert(KWOK_NODE.into(), "fake".into());
        assert!(!takes_ordinary_pods(&fake));
    }

    #[test]
    fn the_exit_command_exits_with_its_code() {
        for code in [0, 1] {
            let command = exit_command(code);
            let status = std::process::Command::new(&command[0])
                .args(&command[1..])
                .status()
                .unwrap();
            assert_eq!(status.code(), Some(code));
        }
    }
}
