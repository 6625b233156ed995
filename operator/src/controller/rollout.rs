//! Which of an App's pods run the version its Deployment is rolling out, from the caches: the
//! pods of the Deployment's newest ReplicaSet, and how many pods of older ones still serve.
//! Pure, so that old pods serving never mask a new version that does not start.

use std::sync::Arc;

use baseplate_crd::labels;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::core::PartialObjectMeta;

use super::owner::controller_uid;

/// The annotation in which the Deployment controller numbers a Deployment's ReplicaSets; the
/// Deployment carries the number of its newest.
pub const REVISION: &str = "deployment.kubernetes.io/revision";

/// The App's pods, split by version.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Versions {
    /// Pods of the newest ReplicaSet.
    pub new: Vec<Pod>,
    /// Pods of older ReplicaSets whose containers are all ready: the previous version serving.
    pub old_serving: i32,
}

/// The pods of the Deployment's newest ReplicaSet among `pods` (the App's), or `None` while
/// the caches do not show which ReplicaSet that is.
pub fn split(
    deployment: &Deployment,
    replica_sets: &[Arc<PartialObjectMeta<ReplicaSet>>],
    pods: &[Arc<Pod>],
) -> Option<Versions> {
    let uid = deployment.metadata.uid.as_deref()?;
    let revision = deployment.metadata.annotations.as_ref()?.get(REVISION)?;
    let newest = replica_sets.iter().find(|rs| {
        controller_uid(&rs.metadata) == Some(uid)
            && rs
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION))
                == Some(revision)
    })?;
    let newest_uid = newest.metadata.uid.as_deref()?;
    let mut versions = Versions::default();
    for pod in pods
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
    {
        if controller_uid(&pod.metadata) == Some(newest_uid) {
            versions.new.push(pod.as_ref().clone());
        } else if serving(pod) {
            versions.old_serving += 1;
        }
    }
    Some(versions)
}

/// The pods in `pods` that carry App `app`'s label in `namespace`.
pub fn of_app(pods: &[Arc<Pod>], namespace: &str, app: &str) -> Vec<Arc<Pod>> {
    pods.iter()
        .filter(|pod| {
            pod.metadata.namespace.as_deref() == Some(namespace)
                && pod
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(labels::APP))
                    .map(String::as_str)
                    == Some(app)
        })
        .cloned()
        .collect()
}

/// Every container reports ready.
fn serving(pod: &Pod) -> bool {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    !statuses.is_empty() && statuses.iter().all(|c| c.ready)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
    use kube::core::PartialObjectMetaExt;
    use std::collections::BTreeMap;

    fn owned_by(uid: &str) -> Option<Vec<OwnerReference>> {
        Some(vec![OwnerReference {
            uid: uid.into(),
            controller: Some(true),
            ..Default::default()
        }])
    }

    fn replica_set(uid: &str, revision: &str) -> Arc<PartialObjectMeta<ReplicaSet>> {
        Arc::new(
            ObjectMeta {
                name: Some(format!("web-{uid}")),
                uid: Some(uid.into()),
                annotations: Some(BTreeMap::from([(REVISION.into(), revision.into())])),
                owner_references: owned_by("deployment-uid"),
                ..Default::default()
            }
            .into_response_partial(),
        )
    }

    fn pod(name: &str, replica_set: &str, ready: bool) -> Arc<Pod> {
        let status: k8s_openapi::api::core::v1::PodStatus = serde_json::from_value(
            serde_json::json!({"containerStatuses": [{"name": "app", "image": "x", "imageID": "", "ready": ready, "restartCount": 0}]}),
        )
        .unwrap();
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                labels: Some(BTreeMap::from([(labels::APP.into(), "web".into())])),
                owner_references: owned_by(replica_set),
                ..Default::default()
            },
            spec: None,
            status: Some(status),
        })
    }

    fn deployment(revision: &str) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                uid: Some("deployment-uid".into()),
                annotations: Some(BTreeMap::from([(REVISION.into(), revision.into())])),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_newest_replica_sets_pods_are_told_apart_from_old_pods_serving() {
        let replica_sets = [replica_set("rs-1", "1"), replica_set("rs-2", "2")];
        let pods = [
            pod("web-1-a", "rs-1", true),
            pod("web-1-b", "rs-1", true),
            pod("web-2-a", "rs-2", false),
        ];
        let versions = split(&deployment("2"), &replica_sets, &pods).unwrap();
        assert_eq!(versions.old_serving, 2);
        let new: Vec<_> = versions
            .new
            .iter()
            .map(|p| p.metadata.name.clone())
            .collect();
        assert_eq!(new, [Some("web-2-a".to_string())]);
        // After a rollback, revision 1's ReplicaSet is the newest again (renumbered 3).
        let rolled_back = [replica_set("rs-1", "3"), replica_set("rs-2", "2")];
        let versions = split(&deployment("3"), &rolled_back, &pods).unwrap();
        assert_eq!(versions.new.len(), 2);
        assert_eq!(versions.old_serving, 0, "the pod of rs-2 is not ready");
    }

    #[test]
    fn unknown_while_the_cache_lacks_the_newest_replica_set() {
        let replica_sets = [replica_set("rs-1", "1")];
        assert_eq!(split(&deployment("2"), &replica_sets, &[]), None);
        // A ReplicaSet of another Deployment with that revision is not it.
        let mut foreign = replica_set("rs-9", "2").as_ref().clone();
        foreign.metadata.owner_references = owned_by("other-deployment");
        assert_eq!(split(&deployment("2"), &[Arc::new(foreign)], &[]), None);
    }

    #[test]
    fn pods_are_the_apps_by_label_and_namespace() {
        let mine = pod("web-1-a", "rs-1", true);
        let mut elsewhere = mine.as_ref().clone();
        elsewhere.metadata.namespace = Some("other".into());
        let mut other_app = mine.as_ref().clone();
        other_app.metadata.labels = Some(BTreeMap::from([(labels::APP.into(), "api".into())]));
        let all = [mine.clone(), Arc::new(elsewhere), Arc::new(other_app)];
        assert_eq!(of_app(&all, "shop", "web"), vec![mine]);
    }
}
