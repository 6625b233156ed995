//! The kit the reconcile scenarios share: a fake API server, fixtures, the child caches'
//! writers, and the one place a test `Context` is built.

pub mod caches;
pub mod fake_api;
pub mod fixtures;
pub mod pods;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use baseplate_crd::{App, Platform};
use baseplate_operator::controller::context::{ChildStores, Context, Settings, WorkloadStores};
use baseplate_operator::controller::event_queue::EventQueue;
use baseplate_operator::controller::reconcile::reconcile;
use baseplate_operator::metrics::{self, Metrics};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::core::{DeserializeGuard, PartialObjectMeta, PartialObjectMetaExt};
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};

pub use caches::*;
pub use fake_api::*;
pub use fixtures::*;
pub use pods::*;

/// A reconciler's `Context` for tests: empty caches, a fixed clock and a fixed generated
/// secret value, unless a part is replaced.
pub struct TestContext {
    client: Client,
    apps: Vec<App>,
    platforms: Vec<Platform>,
    revisions: Vec<ControllerRevision>,
    namespaces: Vec<PartialObjectMeta<Namespace>>,
    children: ChildStores,
    workload: Option<WorkloadStores>,
}

impl TestContext {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            apps: vec![],
            platforms: vec![],
            revisions: vec![],
            namespaces: vec![],
            children: empty_children(),
            workload: None,
        }
    }

    pub fn apps(mut self, apps: Vec<App>) -> Self {
        self.apps = apps;
        self
    }

    pub fn platforms(mut self, platforms: Vec<Platform>) -> Self {
        self.platforms = platforms;
        self
    }

    /// The ControllerRevisions cache (staged Platforms' history).
    pub fn revisions(mut self, revisions: Vec<ControllerRevision>) -> Self {
        self.revisions = revisions;
        self
    }

    /// A namespace with `labels` in the namespaces cache.
    pub fn namespace(mut self, name: &str, labels: BTreeMap<String, String>) -> Self {
        self.namespaces.push(
            ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels),
                ..Default::default()
            }
            .into_response_partial(),
        );
        self
    }

    pub fn children(mut self, children: ChildStores) -> Self {
        self.children = children;
        self
    }

    /// The ReplicaSet and pod caches (empty unless set).
    pub fn workload(mut self, workload: WorkloadStores) -> Self {
        self.workload = Some(workload);
        self
    }

    /// The Context; its event publisher runs on the current runtime.
    pub fn build(self) -> Context {
        let reporter = Reporter {
            controller: "baseplate".into(),
            instance: Some("test".into()),
        };
        Context {
            client: self.client.clone(),
            events: EventQueue::spawn(Recorder::new(self.client, reporter)),
            metrics: Metrics::register(&mut metrics::registry()),
            apps: store_of(
                self.apps
                    .into_iter()
                    .map(|app| DeserializeGuard(Ok(app)))
                    .collect(),
            ),
            platforms: store_of(self.platforms),
            revisions: store_of(self.revisions),
            rollouts: tokio::sync::Notify::new(),
            namespaces: store_of(self.namespaces),
            children: self.children,
            workload: self.workload.unwrap_or_else(|| WorkloadStores {
                replica_sets: store_of(vec![]),
                pods: store_of(vec![]),
            }),
            settings: Settings {
                resync: Duration::from_secs(600),
                operator_namespace: "baseplate-system".into(),
            },
            memory: Default::default(),
            secrets_listed: Default::default(),
            failures: Default::default(),
            clock: fixed_time,
            generate_secret: fixed_secret,
        }
    }
}

/// One reconcile of `app` against a fake cluster, with the caches and Platforms set here.
pub struct Harness {
    pub app: App,
    pub cluster: Cluster,
    pub platforms: Vec<Platform>,
    pub namespace_labels: BTreeMap<String, String>,
    pub children: Option<ChildStores>,
}

impl Harness {
    pub fn new(app: App) -> Self {
        Self {
            app,
            cluster: Cluster::default(),
            platforms: vec![],
            namespace_labels: BTreeMap::new(),
            children: None,
        }
    }

    pub async fn run(self) -> (Result<Action, String>, Vec<Call>) {
        let (api, client) = FakeApi::start(self.cluster);
        let ctx = TestContext::new(client)
            .apps(vec![self.app.clone()])
            .platforms(self.platforms)
            .namespace("shop", self.namespace_labels)
            .children(self.children.unwrap_or_else(empty_children))
            .build();
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            reconcile(Arc::new(DeserializeGuard(Ok(self.app))), Arc::new(ctx)),
        )
        .await
        .expect("reconcile finished")
        .map_err(|e| e.to_string());
        let calls = api.finish().await;
        (result, calls)
    }
}

/// One reconciler, two reconciles of the reference App, the caches fed with what the first
/// applied; `between` then changes the caches or the cluster. Returns the second's requests.
pub async fn second_reconcile(between: impl FnOnce(&mut Watches, &mut Cluster)) -> Vec<Call> {
    two_reconciles(REFERENCE, true, Duration::ZERO, between)
        .await
        .1
}

/// Two reconciles of the App in `yaml` by one reconciler; between them the caches are fed
/// what the first applied when `watched` (else the watches run behind), `between` runs and
/// `wait` passes. Returns what the second answered and requested.
pub async fn two_reconciles(
    yaml: &str,
    watched: bool,
    wait: Duration,
    between: impl FnOnce(&mut Watches, &mut Cluster),
) -> (Action, Vec<Call>) {
    let (api, client) = FakeApi::start(Cluster::default());
    let (children, mut watches) = watched_caches();
    let mut settled = app(yaml);
    let ctx = Arc::new(TestContext::new(client).children(children).build());
    reconcile(Arc::new(DeserializeGuard(Ok(settled.clone()))), ctx.clone())
        .await
        .unwrap();
    ctx.events.flushed().await;
    let first = api.take_calls();
    assert_eq!(
        events(&first).first().map(|e| e.0.as_str()),
        Some("Created")
    );
    settled.status = Some(written_status(&first, "my-application"));
    if watched {
        watches.observe(&first, &api.cluster.lock().unwrap());
    }
    between(&mut watches, &mut api.cluster.lock().unwrap());
    tokio::time::sleep(wait).await;
    let action = reconcile(Arc::new(DeserializeGuard(Ok(settled))), ctx.clone())
        .await
        .unwrap();
    drop(ctx);
    let calls = api.finish().await;
    (action, calls)
}
