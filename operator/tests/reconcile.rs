//! Reconcile scenarios against a mock API server (kube-rs's tower-test pattern): every request
//! the reconciler makes is recorded with its method, URL and body, and answered the way the
//! API server would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baseplate_crd::{App, AppStatus, Platform};
use baseplate_operator::controller::children::{CACHE_LAG_ALLOWANCE, CREATE_ONLY_VERSION};
use baseplate_operator::controller::context::{ChildStores, Context, Settings};
use baseplate_operator::controller::events::EventQueue;
use baseplate_operator::controller::reconcile::reconcile;
use baseplate_operator::metrics::Metrics;
use http::{Request, Response, StatusCode};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::client::Body;
use kube::core::{DeserializeGuard, PartialObjectMeta, PartialObjectMetaExt};
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde_json::{Value, json};

const APP_UID: &str = "app-uid-1";

/// One request the reconciler made.
#[derive(Clone, Debug)]
struct Call {
    method: String,
    path: String,
    query: String,
    body: Value,
}

impl Call {
    fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

/// How the fake API server answers.
#[derive(Clone, Default)]
struct Cluster {
    /// Objects that exist, by path; GETs of anything else are 404.
    objects: BTreeMap<String, Value>,
    /// resourceVersion answered for applied objects, by path; default "1".
    applied_versions: BTreeMap<String, String>,
    /// Status to put into an applied Deployment.
    deployment_status: Option<Value>,
    /// Objects that exist, but that GETs do not find yet (created a moment after the read).
    unseen_by_reads: Vec<String>,
}

fn not_found() -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"});
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

fn conflict() -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Conflict", "code": 409, "message": "the object has been modified; please apply your changes to the latest version and try again"});
    Response::builder()
        .status(StatusCode::CONFLICT)
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

/// An apply that names a resourceVersion is refused when the object exists at another one;
/// on a missing object the version is not checked (it is created).
fn precondition_fails(path: &str, body: &Value, cluster: &Cluster) -> bool {
    let wanted = &body["metadata"]["resourceVersion"];
    match cluster.objects.get(path) {
        Some(existing) => wanted.is_string() && *wanted != existing["metadata"]["resourceVersion"],
        None => false,
    }
}

fn ok(body: &Value) -> Response<Body> {
    Response::builder()
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

async fn serve(
    mut handle: tower_test::mock::Handle<Request<Body>, Response<Body>>,
    cluster: Arc<Mutex<Cluster>>,
    calls: Arc<Mutex<Vec<Call>>>,
) {
    while let Some((request, send)) = handle.next_request().await {
        let method = request.method().to_string();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        calls.lock().unwrap().push(Call {
            method: method.clone(),
            path: path.clone(),
            query,
            body: body.clone(),
        });
        let cluster = cluster.lock().unwrap().clone();
        let response = match method.as_str() {
            "GET" if cluster.unseen_by_reads.contains(&path) => not_found(),
            "GET" => cluster.objects.get(&path).map_or_else(not_found, ok),
            "PATCH" if precondition_fails(&path, &body, &cluster) => conflict(),
            "PATCH" => ok(&answer_apply(&path, body, &cluster)),
            "DELETE" => ok(
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
            ),
            "POST" => ok(&body),
            _ => not_found(),
        };
        send.send_response(response);
    }
}

/// The object as the API server answers an apply of `body` at `path`.
fn answer_apply(path: &str, body: Value, cluster: &Cluster) -> Value {
    let mut object = body;
    let version = cluster
        .applied_versions
        .get(path)
        .cloned()
        .unwrap_or_else(|| "1".into());
    object["metadata"]["resourceVersion"] = json!(version);
    object["metadata"]["uid"] = json!(format!("uid-{path}"));
    // Of the children, only these kinds have a spec generation.
    if [
        "/deployments/",
        "/poddisruptionbudgets/",
        "/ingresses/",
        "/apps/",
    ]
    .iter()
    .any(|kind| path.contains(kind))
    {
        object["metadata"]["generation"] = json!(1);
    }
    if path.ends_with("/status") {
        // The API server answers with the whole App; the reconciler only needs it to parse.
        object["spec"] = json!({"image": "nginx:1.14"});
        object["metadata"]["name"] = json!(path.rsplit('/').nth(1).unwrap_or_default());
    }
    if path.contains("/deployments/")
        && let Some(status) = &cluster.deployment_status
    {
        object["status"] = status.clone();
    }
    object
}

fn store_of<K>(objects: Vec<K>) -> Store<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, mut writer) = reflector::store();
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }
    reader
}

/// Metadata of a child Baseplate owns, as the cache would hold it.
fn owned_meta<K: Resource<DynamicType = ()>>(name: &str, version: &str) -> PartialObjectMeta<K> {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("shop".into()),
        uid: Some(format!("uid-{}-{name}", K::kind(&()))),
        resource_version: Some(version.into()),
        labels: Some(BTreeMap::from([
            (
                "app.kubernetes.io/managed-by".to_string(),
                "baseplate".to_string(),
            ),
            ("baseplate.dev/app".to_string(), name.to_string()),
        ])),
        owner_references: Some(vec![OwnerReference {
            api_version: "baseplate.dev/v1alpha1".into(),
            kind: "App".into(),
            name: name.into(),
            uid: APP_UID.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]),
        ..Default::default()
    }
    .into_response_partial()
}

fn app(yaml: &str) -> App {
    let mut app: App = serde_saphyr::from_str(yaml).unwrap();
    app.metadata.namespace = Some("shop".into());
    app.metadata.uid = Some(APP_UID.into());
    app.metadata.generation = Some(1);
    app
}

const REFERENCE: &str = include_str!("../../examples/my-application.yaml");

struct Harness {
    app: App,
    cluster: Cluster,
    platforms: Vec<Platform>,
    namespace_labels: BTreeMap<String, String>,
    children: Option<ChildStores>,
}

fn fixed_time() -> Time {
    Time(jiff::Timestamp::from_second(1_800_000_000).unwrap())
}

fn fixed_secret() -> String {
    "generated-value-0123456789abcdef".into()
}

impl Harness {
    fn new(app: App) -> Self {
        Self {
            app,
            cluster: Cluster::default(),
            platforms: vec![],
            namespace_labels: BTreeMap::new(),
            children: None,
        }
    }

    async fn run(self) -> (Result<Action, String>, Vec<Call>) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "shop");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let server = tokio::spawn(serve(
            handle,
            Arc::new(Mutex::new(self.cluster)),
            calls.clone(),
        ));
        let namespace: PartialObjectMeta<Namespace> = ObjectMeta {
            name: Some("shop".into()),
            labels: Some(self.namespace_labels),
            ..Default::default()
        }
        .into_response_partial();
        let ctx = Arc::new(Context {
            client: client.clone(),
            events: EventQueue::spawn(Recorder::new(
                client,
                Reporter {
                    controller: "baseplate".into(),
                    instance: Some("test".into()),
                },
            )),
            metrics: Arc::new(Metrics::default()),
            apps: store_of(vec![DeserializeGuard(Ok(self.app.clone()))]),
            platforms: store_of(self.platforms),
            namespaces: store_of(vec![namespace]),
            children: self.children.unwrap_or_else(empty_children),
            settings: Settings {
                resync: Duration::from_secs(600),
            },
            memory: Default::default(),
            failures: Default::default(),
            clock: fixed_time,
            generate_secret: fixed_secret,
        });
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            reconcile(Arc::new(DeserializeGuard(Ok(self.app))), ctx),
        )
        .await
        .expect("reconcile finished")
        .map_err(|e| e.to_string());
        server.await.unwrap();
        let calls = calls.lock().unwrap().clone();
        (result, calls)
    }
}

fn empty_children() -> ChildStores {
    ChildStores {
        config_maps: store_of(vec![]),
        secrets: store_of(vec![]),
        deployments: store_of(vec![]),
        services: store_of(vec![]),
        horizontal_pod_autoscalers: store_of(vec![]),
        pod_disruption_budgets: store_of(vec![]),
        ingresses: store_of(vec![]),
    }
}

/// A cached Deployment of Baseplate's, as the slimmed Deployment cache holds it.
fn owned_deployment(name: &str, version: &str, replicas: Option<i32>) -> Deployment {
    Deployment {
        metadata: owned_meta::<Deployment>(name, version).metadata,
        spec: Some(k8s_openapi::api::apps::v1::DeploymentSpec {
            replicas,
            ..Default::default()
        }),
        status: None,
    }
}

/// A child of Baseplate's cached whole (without status), as Services and autoscalers are.
fn owned_object<K: Resource<DynamicType = ()> + Default>(name: &str, version: &str) -> K {
    let mut object = K::default();
    *object.meta_mut() = owned_meta::<K>(name, version).metadata;
    object
}

/// Every child of `name` cached as Baseplate's own, at resourceVersion "1".
fn all_owned(name: &str) -> ChildStores {
    ChildStores {
        config_maps: store_of(vec![owned_meta(name, "1")]),
        secrets: store_of(vec![owned_meta(name, "1")]),
        deployments: store_of(vec![owned_deployment(name, "1", None)]),
        services: store_of(vec![owned_object(name, "1")]),
        horizontal_pod_autoscalers: store_of(vec![owned_object(name, "1")]),
        pod_disruption_budgets: store_of(vec![owned_meta(name, "1")]),
        ingresses: store_of(vec![owned_meta(name, "1")]),
    }
}

const NS: &str = "/namespaces/shop";

fn child_paths(name: &str) -> Vec<String> {
    vec![
        format!("/api/v1{NS}/configmaps/{name}"),
        format!("/api/v1{NS}/secrets/{name}"),
        format!("/apis/apps/v1{NS}/deployments/{name}"),
        format!("/api/v1{NS}/services/{name}"),
        format!("/apis/autoscaling/v2{NS}/horizontalpodautoscalers/{name}"),
        format!("/apis/policy/v1{NS}/poddisruptionbudgets/{name}"),
        format!("/apis/networking.k8s.io/v1{NS}/ingresses/{name}"),
    ]
}

fn status_path(name: &str) -> String {
    format!("/apis/baseplate.dev/v1alpha1{NS}/apps/{name}/status")
}

fn written_status(calls: &[Call], name: &str) -> AppStatus {
    let call = calls
        .iter()
        .find(|c| c.is("PATCH", &status_path(name)))
        .expect("status was written");
    serde_json::from_value(call.body["status"].clone()).unwrap()
}

fn condition<'a>(
    status: &'a AppStatus,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    status.conditions.iter().find(|c| c.type_ == type_).unwrap()
}

fn events(calls: &[Call]) -> Vec<(String, String)> {
    calls
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/events"))
        .map(|c| {
            (
                c.body["reason"].as_str().unwrap_or_default().to_string(),
                c.body["note"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn first_apply_of_the_reference_app_creates_all_seven_children_in_order() {
    let (result, calls) = Harness::new(app(REFERENCE)).run().await;
    assert!(result.is_ok(), "{result:?}");

    // Nothing is looked up first: each child is applied once, as a create that cannot take
    // over an existing object; Secret and ConfigMap before the workload, the workload before
    // what points at it.
    let child_calls: Vec<&Call> = calls
        .iter()
        .filter(|c| !c.path.ends_with("/status") && !c.path.ends_with("/events"))
        .collect();
    assert!(
        child_calls.iter().all(|c| c.method == "PATCH"),
        "{child_calls:#?}"
    );
    let paths = child_paths("my-application");
    let stage = |range: std::ops::Range<usize>| {
        let mut wanted: Vec<String> = paths[range].to_vec();
        wanted.sort();
        wanted
    };
    let mut applied: Vec<String> = child_calls.iter().map(|c| c.path.clone()).collect();
    assert_eq!(applied.len(), 7, "{applied:#?}");
    applied[0..2].sort();
    applied[3..7].sort();
    assert_eq!(applied[0..2], stage(0..2));
    assert_eq!(applied[2], paths[2]);
    assert_eq!(applied[3..7], stage(3..7));
    for call in &child_calls {
        assert_eq!(
            call.body["metadata"]["resourceVersion"], CREATE_ONLY_VERSION,
            "{}",
            call.path
        );
    }

    for call in calls
        .iter()
        .filter(|c| c.method == "PATCH" && !c.path.ends_with("/status"))
    {
        assert!(
            call.query.contains("fieldManager=baseplate"),
            "{}",
            call.query
        );
        assert!(call.query.contains("force=true"), "{}", call.query);
        let owner = &call.body["metadata"]["ownerReferences"][0];
        assert_eq!(owner["uid"], APP_UID, "{}", call.path);
        assert_eq!(owner["controller"], true);
        assert_eq!(
            call.body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "baseplate"
        );
    }
    let deployment = &calls
        .iter()
        .find(|c| c.is("PATCH", &child_paths("my-application")[2]))
        .unwrap()
        .body;
    assert!(
        deployment["spec"].get("replicas").is_none(),
        "the HPA owns replicas"
    );
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );

    let status = written_status(&calls, "my-application");
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.children.len(), 7);
    assert_eq!(
        status.url.as_deref(),
        Some("http://my-application.shop.apps.example.com/")
    );
    assert_eq!(condition(&status, "Ready").status, "False");
    assert_eq!(condition(&status, "Degraded").status, "False");
    let events = events(&calls);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "Created");
    assert!(events[0].1.contains("Deployment/my-application"));
}

#[tokio::test]
async fn a_second_reconcile_with_nothing_changed_writes_nothing() {
    // First run, to learn the status the reconciler would write.
    let (_, first) = Harness::new(app(REFERENCE)).run().await;
    let mut settled = app(REFERENCE);
    settled.status = Some(written_status(&first, "my-application"));

    let mut harness = Harness::new(settled);
    harness.children = Some(all_owned("my-application"));
    let (result, calls) = harness.run().await;
    assert!(result.is_ok(), "{result:?}");
    // Seven applies that change nothing (same resourceVersion back), no lookups, no status, no events.
    assert_eq!(calls.len(), 7, "{calls:#?}");
    assert!(
        calls
            .iter()
            .all(|c| c.method == "PATCH" && !c.path.ends_with("/status"))
    );
}

#[tokio::test]
async fn a_platform_default_reaches_the_deployment() {
    let mut harness = Harness::new(app(REFERENCE));
    harness.namespace_labels = BTreeMap::from([("team".into(), "payments".into())]);
    harness.platforms = vec![
        serde_saphyr::from_str(
            "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: payments}\nspec:\n  namespaceSelector: {matchLabels: {team: payments}}\n  defaults: {preStopSleepSeconds: 30}\n",
        )
        .unwrap(),
        serde_saphyr::from_str(
            "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: other-team}\nspec:\n  namespaceSelector: {matchLabels: {team: search}}\n  defaults: {preStopSleepSeconds: 99}\n",
        )
        .unwrap(),
    ];
    harness.children = Some(all_owned("my-application"));
    let (_, calls) = harness.run().await;
    let deployment = &calls
        .iter()
        .find(|c| c.is("PATCH", &child_paths("my-application")[2]))
        .unwrap()
        .body;
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"],
        30
    );
    assert_eq!(
        pod["terminationGracePeriodSeconds"], 50,
        "grace follows preStop + 20"
    );
    let status = written_status(&calls, "my-application");
    assert_eq!(status.platforms, vec!["payments".to_string()]);
}

#[tokio::test]
async fn a_disabled_ingress_is_pruned_and_nothing_else_is() {
    let yaml = format!("{REFERENCE}  ingress:\n    enabled: false\n");
    let mut harness = Harness::new(app(&yaml));
    harness.children = Some(all_owned("my-application"));
    let (_, calls) = harness.run().await;
    let deletes: Vec<&Call> = calls.iter().filter(|c| c.method == "DELETE").collect();
    assert_eq!(deletes.len(), 1, "{calls:#?}");
    assert_eq!(deletes[0].path, child_paths("my-application")[6]);
    // Deleted only if it is still the object found to be ours.
    assert_eq!(
        deletes[0].body["preconditions"]["uid"],
        "uid-Ingress-my-application"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.is("PATCH", &child_paths("my-application")[6]))
    );
    let status = written_status(&calls, "my-application");
    assert_eq!(status.children.len(), 6);
    assert_eq!(status.url, None);
    assert!(
        events(&calls)
            .iter()
            .any(|(reason, note)| reason == "Pruned" && note.contains("Ingress/my-application"))
    );
}

#[tokio::test]
async fn a_child_owned_by_someone_else_is_never_touched() {
    let mut harness = Harness::new(app(REFERENCE));
    let service = child_paths("my-application")[3].clone();
    // A Service of the same name that a person created: no owner reference to the App.
    harness.cluster.objects.insert(
        service.clone(),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "my-application", "namespace": "shop", "uid": "foreign", "resourceVersion": "7"}}),
    );
    let (result, calls) = harness.run().await;
    assert!(result.is_ok());
    // Created only if missing; refused, it is looked at and left alone.
    assert!(calls.iter().any(|c| c.is("GET", &service)));
    assert!(
        calls
            .iter()
            .filter(|c| c.path == service && c.method != "GET")
            .all(|c| c.method == "PATCH"
                && c.body["metadata"]["resourceVersion"] == CREATE_ONLY_VERSION),
        "the foreign Service was written to"
    );
    let status = written_status(&calls, "my-application");
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded.status, "True");
    assert_eq!(degraded.reason, "NameConflict");
    assert!(
        degraded.message.contains("Service/my-application"),
        "{}",
        degraded.message
    );
    assert!(
        events(&calls)
            .iter()
            .any(|(reason, _)| reason == "NameConflict")
    );
}

#[tokio::test]
async fn an_app_over_a_guardrail_leaves_running_children_alone() {
    let yaml = format!("{REFERENCE}  replicas: 50\n");
    let mut harness = Harness::new(app(&yaml));
    harness.platforms = vec![serde_saphyr::from_str(
        "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: guardrails}\nspec:\n  limits: {maxReplicas: 20}\n",
    )
    .unwrap()];
    harness.children = Some(all_owned("my-application"));
    let (result, calls) = harness.run().await;
    assert_eq!(
        result,
        Ok(Action::await_change()),
        "an invalid App is not retried hot"
    );
    let writes: Vec<&Call> = calls.iter().filter(|c| c.method != "POST").collect();
    assert_eq!(
        writes.len(),
        1,
        "only the status may be written: {writes:#?}"
    );
    let status = written_status(&calls, "my-application");
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded.reason, "PolicyViolation");
    assert!(
        degraded.message.contains("spec.replicas"),
        "{}",
        degraded.message
    );
    assert!(
        degraded.message.contains("platform/guardrails"),
        "{}",
        degraded.message
    );
    assert_eq!(condition(&status, "Ready").reason, "PolicyViolation");
}

#[tokio::test]
async fn a_missing_supplied_secret_is_reported_and_generated_values_are_kept() {
    let yaml =
        format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n    supplied: [API_TOKEN]\n");
    let mut harness = Harness::new(app(&yaml));
    let secret_path = child_paths("my-application")[1].clone();
    // The Secret exists with a value generated earlier; nobody has supplied API_TOKEN yet.
    let kept = Secret {
        metadata: owned_meta::<Secret>("my-application", "1").metadata,
        data: Some(BTreeMap::from([(
            "SESSION_KEY".to_string(),
            k8s_openapi::ByteString(b"kept-from-before".to_vec()),
        )])),
        ..Default::default()
    };
    harness
        .cluster
        .objects
        .insert(secret_path.clone(), serde_json::to_value(&kept).unwrap());
    harness.children = Some(all_owned("my-application"));
    let (_, calls) = harness.run().await;
    let applied = &calls
        .iter()
        .find(|c| c.is("PATCH", &secret_path))
        .unwrap()
        .body;
    // base64("kept-from-before"): the earlier value, not a new one.
    assert_eq!(applied["data"]["SESSION_KEY"], "a2VwdC1mcm9tLWJlZm9yZQ==");
    assert!(
        applied["data"].get("API_TOKEN").is_none(),
        "Baseplate never writes supplied keys"
    );
    let status = written_status(&calls, "my-application");
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded.reason, "WaitingForSecret");
    assert!(degraded.message.contains("API_TOKEN"));
    // No secret value anywhere in status or events.
    let everything = format!("{:?}{:?}", serde_json::to_string(&status), events(&calls));
    assert!(
        !everything.contains("kept-from-before") && !everything.contains("a2VwdC1mcm9tLWJlZm9yZQ")
    );
    assert!(
        !events(&calls)
            .iter()
            .any(|(reason, _)| reason.starts_with("Secret")),
        "nothing was generated"
    );
}

#[tokio::test]
async fn a_deleted_secret_is_regenerated_and_reported() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let mut previous = app(&yaml);
    previous.status = Some(AppStatus {
        children: vec!["Secret/my-application".into()],
        ..Default::default()
    });
    let (_, calls) = Harness::new(previous).run().await;
    let applied = &calls
        .iter()
        .find(|c| c.is("PATCH", &child_paths("my-application")[1]))
        .unwrap()
        .body;
    assert_eq!(
        applied["data"]["SESSION_KEY"],
        "Z2VuZXJhdGVkLXZhbHVlLTAxMjM0NTY3ODlhYmNkZWY="
    );
    let events = events(&calls);
    let regenerated = events
        .iter()
        .find(|(reason, _)| reason == "SecretRegenerated")
        .expect("reported");
    assert!(regenerated.1.contains("SESSION_KEY") && !regenerated.1.contains("generated-value"));
}

/// Writers of every child cache, standing in for the watches.
struct Watches {
    config_maps: reflector::store::Writer<PartialObjectMeta<k8s_openapi::api::core::v1::ConfigMap>>,
    secrets: reflector::store::Writer<PartialObjectMeta<Secret>>,
    deployments: reflector::store::Writer<Deployment>,
    services: reflector::store::Writer<k8s_openapi::api::core::v1::Service>,
    horizontal_pod_autoscalers:
        reflector::store::Writer<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler>,
    pod_disruption_budgets: reflector::store::Writer<
        PartialObjectMeta<k8s_openapi::api::policy::v1::PodDisruptionBudget>,
    >,
    ingresses:
        reflector::store::Writer<PartialObjectMeta<k8s_openapi::api::networking::v1::Ingress>>,
}

fn watched_caches() -> (ChildStores, Watches) {
    let (config_maps, config_map_writer) = reflector::store();
    let (secrets, secret_writer) = reflector::store();
    let (deployments, deployment_writer) = reflector::store();
    let (services, service_writer) = reflector::store();
    let (hpas, hpa_writer) = reflector::store();
    let (pdbs, pdb_writer) = reflector::store();
    let (ingresses, ingress_writer) = reflector::store();
    (
        ChildStores {
            config_maps,
            secrets,
            deployments,
            services,
            horizontal_pod_autoscalers: hpas,
            pod_disruption_budgets: pdbs,
            ingresses,
        },
        Watches {
            config_maps: config_map_writer,
            secrets: secret_writer,
            deployments: deployment_writer,
            services: service_writer,
            horizontal_pod_autoscalers: hpa_writer,
            pod_disruption_budgets: pdb_writer,
            ingresses: ingress_writer,
        },
    )
}

impl Watches {
    /// Feeds the caches what the applies wrote, as the watches would.
    fn observe(&mut self, calls: &[Call], cluster: &Cluster) {
        fn meta<K: Resource<DynamicType = ()>>(
            object: &Value,
        ) -> watcher::Event<PartialObjectMeta<K>> {
            let meta: ObjectMeta = serde_json::from_value(object["metadata"].clone()).unwrap();
            watcher::Event::Apply(meta.into_response_partial())
        }
        fn whole<K: serde::de::DeserializeOwned>(object: Value) -> watcher::Event<K> {
            let mut object = object;
            object["status"] = Value::Null;
            watcher::Event::Apply(serde_json::from_value(object).unwrap())
        }
        for call in calls
            .iter()
            .filter(|c| c.method == "PATCH" && !c.path.ends_with("/status"))
        {
            let object = answer_apply(&call.path, call.body.clone(), cluster);
            match object["kind"].as_str().unwrap_or_default() {
                "ConfigMap" => self.config_maps.apply_watcher_event(&meta(&object)),
                "Secret" => self.secrets.apply_watcher_event(&meta(&object)),
                "Deployment" => self.deployments.apply_watcher_event(&watcher::Event::Apply(
                    serde_json::from_value(object).unwrap(),
                )),
                "Service" => self.services.apply_watcher_event(&whole(object)),
                "HorizontalPodAutoscaler" => self
                    .horizontal_pod_autoscalers
                    .apply_watcher_event(&whole(object)),
                "PodDisruptionBudget" => self
                    .pod_disruption_budgets
                    .apply_watcher_event(&meta(&object)),
                "Ingress" => self.ingresses.apply_watcher_event(&meta(&object)),
                other => panic!("unexpected apply of {other}"),
            }
        }
    }
}

/// One reconciler, two reconciles of the reference App, the caches fed with what the first
/// applied; `between` then changes the caches or the cluster. Returns the second's requests.
async fn second_reconcile(between: impl FnOnce(&mut Watches, &mut Cluster)) -> Vec<Call> {
    two_reconciles(REFERENCE, true, Duration::ZERO, between)
        .await
        .1
}

/// Two reconciles of the App in `yaml` by one reconciler; between them the caches are fed
/// what the first applied when `watched` (else the watches run behind), `between` runs and
/// `wait` passes. Returns what the second answered and requested.
async fn two_reconciles(
    yaml: &str,
    watched: bool,
    wait: Duration,
    between: impl FnOnce(&mut Watches, &mut Cluster),
) -> (Action, Vec<Call>) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "shop");
    let calls = Arc::new(Mutex::new(Vec::new()));
    let cluster = Arc::new(Mutex::new(Cluster::default()));
    let server = tokio::spawn(serve(handle, cluster.clone(), calls.clone()));
    let (children, mut watches) = watched_caches();
    let mut settled = app(yaml);
    let ctx = Arc::new(Context {
        client: client.clone(),
        events: EventQueue::spawn(Recorder::new(
            client,
            Reporter {
                controller: "baseplate".into(),
                instance: Some("test".into()),
            },
        )),
        metrics: Arc::new(Metrics::default()),
        apps: store_of(vec![]),
        platforms: store_of(vec![]),
        namespaces: store_of(vec![]),
        children,
        settings: Settings {
            resync: Duration::from_secs(600),
        },
        memory: Default::default(),
        failures: Default::default(),
        clock: fixed_time,
        generate_secret: fixed_secret,
    });
    reconcile(Arc::new(DeserializeGuard(Ok(settled.clone()))), ctx.clone())
        .await
        .unwrap();
    ctx.events.flushed().await;
    let first = std::mem::take(&mut *calls.lock().unwrap());
    assert_eq!(
        events(&first).first().map(|e| e.0.as_str()),
        Some("Created")
    );
    settled.status = Some(written_status(&first, "my-application"));
    if watched {
        watches.observe(&first, &cluster.lock().unwrap());
    }
    between(&mut watches, &mut cluster.lock().unwrap());
    tokio::time::sleep(wait).await;
    let action = reconcile(Arc::new(DeserializeGuard(Ok(settled))), ctx.clone())
        .await
        .unwrap();
    drop(ctx);
    server.await.unwrap();
    let calls = calls.lock().unwrap().clone();
    (action, calls)
}

/// The cached Deployment after the first reconcile, changed by `edit`.
fn edited_deployment(
    watches: &Watches,
    edit: impl FnOnce(&mut Deployment),
) -> watcher::Event<Deployment> {
    let mut deployment = watches
        .deployments
        .as_reader()
        .get(&reflector::ObjectRef::new("my-application").within("shop"))
        .unwrap()
        .as_ref()
        .clone();
    edit(&mut deployment);
    watcher::Event::Apply(deployment)
}

#[tokio::test]
async fn a_reconcile_with_nothing_changed_since_the_last_one_makes_no_request() {
    let calls = second_reconcile(|_, _| {}).await;
    assert!(calls.is_empty(), "{calls:#?}");
}

#[tokio::test]
async fn a_reconcile_before_the_watch_shows_the_last_applies_waits_instead_of_repeating_them() {
    let (action, calls) = two_reconciles(REFERENCE, false, Duration::ZERO, |_, _| {}).await;
    assert!(calls.is_empty(), "{calls:#?}");
    assert_eq!(action, Action::requeue(CACHE_LAG_ALLOWANCE));
}

#[tokio::test]
async fn the_secret_is_read_once_and_then_known_from_the_cache() {
    let yaml =
        format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n    supplied: [API_TOKEN]\n");
    let (_, calls) = two_reconciles(&yaml, true, Duration::ZERO, |_, _| {}).await;
    assert!(calls.is_empty(), "{calls:#?}");
}

#[tokio::test]
async fn a_secret_changed_by_someone_is_read_again() {
    let yaml = format!("{REFERENCE}  secrets:\n    supplied: [API_TOKEN]\n");
    let secret_path = child_paths("my-application")[1].clone();
    let (_, calls) = two_reconciles(&yaml, true, Duration::ZERO, |watches, cluster| {
        // Someone supplies API_TOKEN: the Secret moves to version 2.
        let mut supplied = Secret {
            metadata: owned_meta::<Secret>("my-application", "2").metadata,
            data: Some(BTreeMap::from([(
                "API_TOKEN".to_string(),
                k8s_openapi::ByteString(b"token".to_vec()),
            )])),
            ..Default::default()
        };
        cluster.objects.insert(
            secret_path.clone(),
            serde_json::to_value(&supplied).unwrap(),
        );
        supplied.data = None;
        watches.secrets.apply_watcher_event(&watcher::Event::Apply(
            supplied.metadata.into_response_partial(),
        ));
    })
    .await;
    assert!(
        calls.iter().any(|c| c.is("GET", &secret_path)),
        "{calls:#?}"
    );
    // The value now exists: the App no longer waits for it.
    let status = written_status(&calls, "my-application");
    assert_ne!(condition(&status, "Degraded").reason, "WaitingForSecret");
}

#[tokio::test]
async fn a_new_app_with_generated_secrets_is_told_in_one_event() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let (result, calls) = Harness::new(app(&yaml)).run().await;
    assert!(result.is_ok(), "{result:?}");
    let events = events(&calls);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "Created");
    assert!(
        events[0].1.contains("Secret/my-application")
            && events[0]
                .1
                .contains("generated values for secret keys SESSION_KEY"),
        "{}",
        events[0].1
    );
    assert!(!events[0].1.contains(&fixed_secret()));
}

#[tokio::test]
async fn a_secret_the_cache_does_not_show_is_found_by_the_create_and_its_values_kept() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let mut harness = Harness::new(app(&yaml));
    let secret_path = child_paths("my-application")[1].clone();
    harness.cluster.objects.insert(
        secret_path.clone(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-application", "namespace": "shop", "resourceVersion": "4", "ownerReferences": [{"apiVersion": "baseplate.dev/v1alpha1", "kind": "App", "name": "my-application", "uid": APP_UID, "controller": true}]}, "data": {"SESSION_KEY": "b2xk"}}),
    );
    let (result, calls) = harness.run().await;
    assert!(result.is_ok(), "{result:?}");
    let secret_calls: Vec<&Call> = calls.iter().filter(|c| c.path == secret_path).collect();
    // Created blind with fresh values: refused. Read, then applied with the value it had.
    let last = secret_calls.last().unwrap();
    assert_eq!(last.method, "PATCH");
    assert_eq!(
        last.body["data"]["SESSION_KEY"], "b2xk",
        "{secret_calls:#?}"
    );
    assert!(secret_calls.iter().any(|c| c.method == "GET"));
    assert!(
        !events(&calls).iter().any(|(r, _)| r.starts_with("Secret")),
        "nothing was generated"
    );
}

#[tokio::test]
async fn a_foreign_secret_the_cache_does_not_show_blocks_the_app() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let mut harness = Harness::new(app(&yaml));
    let secret_path = child_paths("my-application")[1].clone();
    harness.cluster.objects.insert(
        secret_path.clone(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-application", "namespace": "shop", "resourceVersion": "4"}, "data": {"SESSION_KEY": "b2xk"}}),
    );
    let (result, calls) = harness.run().await;
    assert_eq!(result, Ok(Action::requeue(Duration::from_secs(30))));
    assert!(
        calls
            .iter()
            .filter(|c| c.is("PATCH", &secret_path))
            .all(|c| c.body["metadata"]["resourceVersion"] == CREATE_ONLY_VERSION),
        "the foreign Secret was written to"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.path == child_paths("my-application")[2])
    );
    let status = written_status(&calls, "my-application");
    assert_eq!(condition(&status, "Degraded").reason, "NameConflict");
}

#[tokio::test]
async fn fresh_values_never_overwrite_a_secret_that_appeared_unseen() {
    let yaml = format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n");
    let mut harness = Harness::new(app(&yaml));
    let secret_path = child_paths("my-application")[1].clone();
    // Created between the read (which found nothing) and the apply.
    harness.cluster.unseen_by_reads.push(secret_path.clone());
    harness.cluster.objects.insert(
        secret_path.clone(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-application", "namespace": "shop", "resourceVersion": "4", "ownerReferences": [{"apiVersion": "baseplate.dev/v1alpha1", "kind": "App", "name": "my-application", "uid": APP_UID, "controller": true}]}, "data": {"SESSION_KEY": "b2xk"}}),
    );
    let (result, calls) = harness.run().await;
    assert!(result.is_err(), "retried: {result:?}");
    let secret_writes: Vec<&Call> = calls
        .iter()
        .filter(|c| c.is("PATCH", &secret_path))
        .collect();
    assert!(
        secret_writes
            .iter()
            .all(|c| c.body["metadata"]["resourceVersion"] == CREATE_ONLY_VERSION),
        "{secret_writes:#?}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.path == child_paths("my-application")[2]),
        "the workload must not roll to values never stored"
    );
}

#[tokio::test]
async fn a_status_only_change_of_a_child_costs_no_write() {
    // The Deployment controller updates the status: new resourceVersion, same generation.
    let calls = second_reconcile(|watches, _| {
        let event = edited_deployment(watches, |d| {
            d.metadata.resource_version = Some("2".into());
            d.status = Some(k8s_openapi::api::apps::v1::DeploymentStatus {
                observed_generation: Some(1),
                replicas: Some(1),
                updated_replicas: Some(1),
                ..Default::default()
            });
        });
        watches.deployments.apply_watcher_event(&event);
    })
    .await;
    let writes: Vec<&Call> = calls
        .iter()
        .filter(|c| !c.path.ends_with("/status") && c.method != "POST")
        .collect();
    assert!(writes.is_empty(), "{writes:#?}");
    // The App's status follows the rollout from the cache.
    let status = written_status(&calls, "my-application");
    assert_eq!(status.updated_replicas, Some(1));
}

fn cached_autoscaler(
    watches: &Watches,
) -> k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler {
    watches
        .horizontal_pod_autoscalers
        .as_reader()
        .get(&reflector::ObjectRef::new("my-application").within("shop"))
        .unwrap()
        .as_ref()
        .clone()
}

#[tokio::test]
async fn what_other_controllers_write_on_children_costs_no_write() {
    let calls = second_reconcile(|watches, _| {
        // The autoscaler's controller updates its status (no generation on this kind) ...
        let mut hpa = cached_autoscaler(watches);
        hpa.metadata.resource_version = Some("2".into());
        watches
            .horizontal_pod_autoscalers
            .apply_watcher_event(&watcher::Event::Apply(hpa));
        // ... and the Deployment controller records its revision in an annotation.
        let event = edited_deployment(watches, |d| {
            d.metadata.resource_version = Some("2".into());
            d.metadata
                .annotations
                .get_or_insert_default()
                .insert("deployment.kubernetes.io/revision".into(), "1".into());
        });
        watches.deployments.apply_watcher_event(&event);
    })
    .await;
    assert!(calls.is_empty(), "{calls:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_hand_edit_of_an_autoscaler_is_put_back() {
    // Edited later than the watch could lag: no generation tells it, the spec does.
    let (_, calls) = two_reconciles(REFERENCE, true, CACHE_LAG_ALLOWANCE, |watches, _| {
        let mut hpa = cached_autoscaler(watches);
        hpa.metadata.resource_version = Some("2".into());
        hpa.spec
            .as_mut()
            .expect("cached with its spec")
            .max_replicas = 77;
        watches
            .horizontal_pod_autoscalers
            .apply_watcher_event(&watcher::Event::Apply(hpa));
    })
    .await;
    let hpa = child_paths("my-application")[4].clone();
    assert!(calls.iter().any(|c| c.is("PATCH", &hpa)), "{calls:#?}");
}

#[tokio::test]
async fn a_hand_edit_is_put_back_and_reported_as_drift() {
    // Someone edits the Deployment (version 2 reaches the cache); the apply restores it (version 3).
    let deployment = child_paths("my-application")[2].clone();
    let calls = second_reconcile(|watches, cluster| {
        let event = edited_deployment(watches, |d| {
            d.metadata.resource_version = Some("2".into());
            d.metadata.generation = Some(2);
        });
        watches.deployments.apply_watcher_event(&event);
        cluster
            .applied_versions
            .insert(deployment.clone(), "3".into());
    })
    .await;
    let patches: Vec<&Call> = calls
        .iter()
        .filter(|c| c.method == "PATCH" && !c.path.ends_with("/status"))
        .collect();
    assert_eq!(
        patches.len(),
        1,
        "only the edited child is applied: {patches:#?}"
    );
    let events = events(&calls);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "DriftCorrected");
    assert!(events[0].1.contains("Deployment/my-application"));
    // Names the child too, so drift on another child later is its own event, not a repeat.
    let posted = calls
        .iter()
        .find(|c| c.method == "POST" && c.body["reason"] == "DriftCorrected")
        .unwrap();
    assert_eq!(posted.body["related"]["kind"], "Deployment");
}

#[tokio::test]
async fn switching_to_autoscaling_hands_the_replica_count_over_first() {
    // The App ran with `replicas: 5` (a Deployment, no HPA) and now drops it for autoscaling.
    let mut harness = Harness::new(app(REFERENCE));
    let mut children = all_owned("my-application");
    children.horizontal_pod_autoscalers = store_of(vec![]);
    children.deployments = store_of(vec![owned_deployment("my-application", "1", Some(5))]);
    harness.children = Some(children);
    let deployment = child_paths("my-application")[2].clone();
    let (result, calls) = harness.run().await;
    assert!(result.is_ok(), "{result:?}");
    let writes: Vec<&Call> = calls.iter().filter(|c| c.path == deployment).collect();
    assert_eq!(writes.len(), 2, "{writes:#?}");
    assert_eq!(writes[0].method, "PATCH");
    assert!(
        writes[0]
            .query
            .contains("fieldManager=baseplate-replicas-handover")
    );
    assert_eq!(writes[0].body["spec"], json!({"replicas": 5}));
    assert!(
        writes[1]
            .query
            .split('&')
            .any(|p| p == "fieldManager=baseplate"),
        "{}",
        writes[1].query
    );
    assert!(writes[1].body["spec"].get("replicas").is_none());
}

#[tokio::test]
async fn an_autoscaler_just_created_but_not_yet_cached_needs_no_handover() {
    // The API server defaults spec.replicas to 1 on the new Deployment, which the cache shows
    // before the new autoscaler.
    let (_, calls) = two_reconciles(REFERENCE, true, Duration::ZERO, |watches, _| {
        let hpa = cached_autoscaler(watches);
        watches
            .horizontal_pod_autoscalers
            .apply_watcher_event(&watcher::Event::Delete(hpa));
        let event = edited_deployment(watches, |d| {
            d.spec.get_or_insert_default().replicas = Some(1);
        });
        watches.deployments.apply_watcher_event(&event);
    })
    .await;
    assert!(
        !calls.iter().any(|c| c.query.contains("handover")),
        "{calls:#?}"
    );
}

#[tokio::test]
async fn an_app_with_an_autoscaler_already_needs_no_handover() {
    let mut harness = Harness::new(app(REFERENCE));
    harness.children = Some(all_owned("my-application"));
    let (_, calls) = harness.run().await;
    assert!(!calls.iter().any(|c| c.query.contains("handover")));
}

#[tokio::test]
async fn a_secret_someone_else_made_blocks_the_app_without_rolling_pods() {
    let yaml =
        format!("{REFERENCE}  secrets:\n    generate: [SESSION_KEY]\n    supplied: [API_KEY]\n");
    let mut harness = Harness::new(app(&yaml));
    harness.children = Some(all_owned("my-application"));
    let secret_path = child_paths("my-application")[1].clone();
    // Created by hand before the App: no owner reference.
    harness.cluster.objects.insert(
        secret_path.clone(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-application", "namespace": "shop"}, "data": {"API_KEY": "eA=="}}),
    );
    let (result, calls) = harness.run().await;
    assert_eq!(
        result,
        Ok(Action::requeue(Duration::from_secs(30))),
        "checked again soon: its deletion is not watched"
    );
    let writes: Vec<&Call> = calls
        .iter()
        .filter(|c| c.method != "GET" && c.method != "POST")
        .collect();
    assert_eq!(writes.len(), 1, "only the status: {writes:#?}");
    let status = written_status(&calls, "my-application");
    let degraded = condition(&status, "Degraded");
    assert_eq!(degraded.reason, "NameConflict");
    assert!(
        degraded.message.contains("Secret/my-application"),
        "{}",
        degraded.message
    );
    assert!(
        !events(&calls)
            .iter()
            .any(|(reason, _)| reason.starts_with("Secret")),
        "nothing was generated"
    );
}

#[tokio::test]
async fn what_is_remembered_of_deleted_apps_is_dropped() {
    let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "shop");
    let ctx = Context {
        client: client.clone(),
        events: EventQueue::spawn(Recorder::new(
            client,
            Reporter {
                controller: "baseplate".into(),
                instance: None,
            },
        )),
        metrics: Arc::new(Metrics::default()),
        apps: store_of(vec![]),
        platforms: store_of(vec![]),
        namespaces: store_of(vec![]),
        children: empty_children(),
        settings: Settings {
            resync: Duration::from_secs(600),
        },
        memory: Default::default(),
        failures: Default::default(),
        clock: fixed_time,
        generate_secret: fixed_secret,
    };
    let remembered = baseplate_operator::controller::context::AppliedChild {
        desired_digest: 1,
        version: Default::default(),
        applied_at: tokio::time::Instant::now(),
        seen: true,
    };
    let secret = baseplate_operator::controller::context::RememberedSecret {
        resource_version: Some("1".into()),
        values: Default::default(),
        read_at: tokio::time::Instant::now(),
    };
    {
        let mut memory = ctx.memory.lock().unwrap();
        memory
            .applied
            .insert("shop/Deployment/kept".into(), remembered.clone());
        memory
            .applied
            .insert("shop/Deployment/gone".into(), remembered.clone());
        memory
            .applied
            .insert("other/Deployment/kept".into(), remembered);
        memory
            .secrets
            .insert("shop/Secret/gone".into(), secret.clone());
        memory.secrets.insert("shop/Secret/kept".into(), secret);
        let mut failures = ctx.failures.lock().unwrap();
        failures.insert(reflector::ObjectRef::new("gone").within("shop"), 3);
        failures.insert(reflector::ObjectRef::new("kept").within("shop"), 1);
    }
    let mut kept = app(REFERENCE);
    kept.metadata.name = Some("kept".into());
    ctx.forget_apps_except(&[Arc::new(DeserializeGuard(Ok(kept)))]);
    let memory = ctx.memory.lock().unwrap();
    assert_eq!(
        memory.applied.keys().collect::<Vec<_>>(),
        vec!["shop/Deployment/kept"]
    );
    assert_eq!(
        memory.secrets.keys().collect::<Vec<_>>(),
        vec!["shop/Secret/kept"]
    );
    let failures = ctx.failures.lock().unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures.keys().all(|k| k.name == "kept"));
}
