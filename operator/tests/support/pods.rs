//! Pods and ReplicaSets as the kubelet, the scheduler and the Deployment controller leave
//! them, fed into the caches the way the watches would (slimmed by `pod_health::slim`).

use std::collections::BTreeMap;

use baseplate_operator::controller::context::WorkloadStores;
use baseplate_operator::controller::pod_health;
use baseplate_operator::controller::rollout::REVISION;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::core::{PartialObjectMeta, PartialObjectMetaExt};
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;

/// The uid the fake API server gives the reference App's Deployment.
pub const DEPLOYMENT_UID: &str = "uid-/apis/apps/v1/namespaces/shop/deployments/my-application";

/// Writers of the ReplicaSet and pod caches, standing in for their watches.
pub struct PodWatches {
    pub replica_sets: Writer<PartialObjectMeta<ReplicaSet>>,
    pub pods: Writer<Pod>,
}

pub fn watched_workload() -> (WorkloadStores, PodWatches) {
    let (replica_sets, rs_writer) = reflector::store();
    let (pods, pod_writer) = reflector::store();
    (
        WorkloadStores { replica_sets, pods },
        PodWatches {
            replica_sets: rs_writer,
            pods: pod_writer,
        },
    )
}

impl PodWatches {
    /// ReplicaSet `rs-N` of the reference App's Deployment, at revision N.
    pub fn replica_set(&mut self, revision: u32) {
        let meta = ObjectMeta {
            name: Some(format!("my-application-rs{revision}")),
            namespace: Some("shop".into()),
            uid: Some(format!("rs-{revision}")),
            annotations: Some(BTreeMap::from([(REVISION.into(), revision.to_string())])),
            owner_references: Some(vec![controller(DEPLOYMENT_UID)]),
            ..Default::default()
        };
        self.replica_sets
            .apply_watcher_event(&watcher::Event::Apply(meta.into_response_partial()));
    }

    /// Pod `name` of ReplicaSet `rs-N` with the status in `status` (YAML, as the kubelet or
    /// scheduler wrote it), slimmed as the pod watch slims it.
    pub fn pod(&mut self, name: &str, revision: u32, status: &str) {
        let yaml = format!(
            r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: shop
  labels:
    app.kubernetes.io/managed-by: baseplate
    baseplate.dev/app: my-application
    pod-template-hash: rs{revision}
  ownerReferences:
    - {{apiVersion: apps/v1, kind: ReplicaSet, name: my-application-rs{revision}, uid: rs-{revision}, controller: true}}
spec:
  containers:
    - name: app
      image: nginx:1.14
      resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{memory: 128Mi}}}}
      readinessProbe: {{tcpSocket: {{port: http}}, periodSeconds: 10, failureThreshold: 3}}
status:
{status}"#
        );
        let mut pod: Pod = serde_saphyr::from_str(&yaml).expect("pod fixture");
        pod_health::slim(&mut pod);
        self.pods.apply_watcher_event(&watcher::Event::Apply(pod));
    }
}

fn controller(uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "my-application".into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A pod whose container serves.
pub const SERVING: &str = r#"
  phase: Running
  containerStatuses:
    - {name: app, image: nginx:1.14, imageID: "docker.io/library/nginx@sha256:1", ready: true, restartCount: 0, started: true, state: {running: {startedAt: '2027-01-15T07:00:00Z'}}}
"#;

/// The kubelet failing to pull a tag that does not exist.
pub const ERR_IMAGE_PULL: &str = r#"
  phase: Pending
  containerStatuses:
    - name: app
      image: nginx:1.14
      imageID: ""
      ready: false
      restartCount: 0
      started: false
      state:
        waiting:
          reason: ErrImagePull
          message: 'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:1.14": failed to resolve reference "docker.io/library/nginx:1.14": docker.io/library/nginx:1.14: not found'
"#;

/// The back-off that follows, repeating the pull error (Kubernetes 1.32 and later).
pub fn image_pull_back_off() -> String {
    ERR_IMAGE_PULL.replace(
        "reason: ErrImagePull\n          message: '",
        "reason: ImagePullBackOff\n          message: 'Back-off pulling image \"nginx:1.14\": ErrImagePull: ",
    )
}

/// A crash loop; `restarts` and the back-off delay change on every retry.
pub fn crash_loop(restarts: u32) -> String {
    format!(
        r#"
  phase: Running
  containerStatuses:
    - name: app
      image: nginx:1.14
      imageID: "docker.io/library/nginx@sha256:1"
      ready: false
      restartCount: {restarts}
      started: false
      state:
        waiting:
          reason: CrashLoopBackOff
          message: 'back-off {delay}s restarting failed container=app pod=my-application-rs2-a_shop(1234)'
      lastState:
        terminated: {{exitCode: 1, reason: Error, message: 'DATABASE_URL is not set', startedAt: '2027-01-15T07:59:00Z', finishedAt: '2027-01-15T07:59:0{restarts}Z'}}
"#,
        delay = 10 * restarts
    )
}
