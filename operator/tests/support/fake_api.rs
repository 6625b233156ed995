//! A fake API server on kube-rs's tower-test mock: every request the reconciler makes is
//! recorded with its method, URL and body, and answered the way the API server would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The fake API server while it runs. It stops once every client is gone, the reconciler's
/// and its event publisher's.
pub struct FakeApi {
    pub cluster: Arc<Mutex<Cluster>>,
    calls: Arc<Mutex<Vec<Call>>>,
    server: JoinHandle<()>,
}

impl FakeApi {
    /// Serves `cluster`; the client is the only way in.
    pub fn start(cluster: Cluster) -> (Self, Client) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "shop");
        let cluster = Arc::new(Mutex::new(cluster));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let server = tokio::spawn(serve(handle, cluster.clone(), calls.clone()));
        let api = Self {
            cluster,
            calls,
            server,
        };
        (api, client)
    }

    /// The requests made so far, forgotten here.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    /// Waits until every client is gone; returns the requests not taken yet.
    pub async fn finish(self) -> Vec<Call> {
        self.server.await.unwrap();
        self.calls.lock().unwrap().clone()
    }
}

/// One request the reconciler made.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
}

impl Call {
    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

/// How the fake API server answers.
#[derive(Clone, Default)]
pub struct Cluster {
    /// Objects that exist, by path; GETs of anything else are 404.
    pub objects: BTreeMap<String, Value>,
    /// resourceVersion answered for applied objects, by path; default "1".
    pub applied_versions: BTreeMap<String, String>,
    /// Status to put into an applied Deployment.
    pub deployment_status: Option<Value>,
    /// Objects that exist, but that GETs do not find yet (created a moment after the read).
    pub unseen_by_reads: Vec<String>,
    /// Paths whose object was deleted: writes to them are 404.
    pub deleted: Vec<String>,
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
            // A list finds nothing rather than failing.
            "GET" if path.ends_with("/pods") && !cluster.objects.contains_key(&path) => {
                ok(&json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []}))
            }
            // Every Secret of the cluster, as a LIST across namespaces answers them.
            "GET" if path == "/api/v1/secrets" => ok(&json!({
                "apiVersion": "v1", "kind": "SecretList", "metadata": {},
                "items": cluster.objects.iter()
                    .filter(|(p, _)| p.contains("/secrets/"))
                    .map(|(_, o)| o.clone())
                    .collect::<Vec<_>>(),
            })),
            "GET" => cluster.objects.get(&path).map_or_else(not_found, ok),
            "PATCH" if cluster.deleted.contains(&path) => not_found(),
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
pub fn answer_apply(path: &str, body: Value, cluster: &Cluster) -> Value {
    let mut object = body;
    let body_fields = |object: &Value| {
        let mut fields = object.clone();
        if let Some(meta) = fields["metadata"].as_object_mut() {
            for identity in ["name", "namespace", "resourceVersion", "uid"] {
                meta.remove(identity);
            }
        }
        if let Some(f) = fields.as_object_mut() {
            f.remove("apiVersion");
            f.remove("kind");
        }
        fields
    };
    let version = cluster
        .applied_versions
        .get(path)
        .cloned()
        .unwrap_or_else(|| "1".into());
    object["metadata"]["resourceVersion"] = json!(version);
    object["metadata"]["uid"] = json!(format!("uid-{path}"));
    if !path.ends_with("/status") {
        object["metadata"]["managedFields"] = json!([{
            "manager": "baseplate", "operation": "Apply", "apiVersion": object["apiVersion"],
            "fieldsType": "FieldsV1", "fieldsV1": owned_fields(&body_fields(&object)),
        }]);
    }
    // Of the children, only these kinds have a spec generation.
    if [
        "/jobs/",
        "/cronjobs/",
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
    if path.ends_with("/status") && path.contains("/platforms/") {
        object["spec"] = json!({});
        object["metadata"]["name"] = json!(path.rsplit('/').nth(1).unwrap_or_default());
    } else if path.ends_with("/status") {
        // The API server answers with the whole App; the reconciler only needs it to parse.
        object["spec"] = json!({"image": "nginx:1.14"});
        object["metadata"]["name"] = json!(path.rsplit('/').nth(1).unwrap_or_default());
    }
    // An apply leaves the status as the object's controller last wrote it.
    if let Some(status) = cluster.objects.get(path).map(|o| &o["status"])
        && !status.is_null()
    {
        object["status"] = status.clone();
    }
    if path.contains("/deployments/")
        && let Some(status) = &cluster.deployment_status
    {
        object["status"] = status.clone();
    }
    object
}

/// The field set the API server records for an apply of `object`, as Kubernetes merges the
/// lists the children use: maps keyed by `name` (containers, env, volumes, ...), ports by
/// number and protocol, owner references by UID (atomic elements); any other list atomic.
pub fn owned_fields(object: &Value) -> Value {
    match object {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (format!("f:{k}"), owned_fields(v)))
                .collect(),
        ),
        Value::Array(items) if items.iter().all(|i| i.get("uid").is_some()) && !items.is_empty() => {
            Value::Object(items.iter().map(|i| (format!("k:{}", json!({"uid": i["uid"]})), json!({}))).collect())
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(|i| i.get("containerPort").is_some()) => {
            Value::Object(items.iter().map(|i| {
                let key = json!({"containerPort": i["containerPort"], "protocol": i.get("protocol").cloned().unwrap_or(json!("TCP"))});
                (format!("k:{key}"), element(i))
            }).collect())
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(|i| i.get("name").is_some()) => {
            Value::Object(items.iter().map(|i| (format!("k:{}", json!({"name": i["name"]})), element(i))).collect())
        }
        _ => json!({}),
    }
}

fn element(item: &Value) -> Value {
    let mut fields = owned_fields(item);
    fields[".".to_string()] = json!({});
    fields
}
