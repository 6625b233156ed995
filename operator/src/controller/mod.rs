//! `baseplate run`: the controller, its caches and its triggers.

pub mod children;
pub mod context;
pub mod error;
pub mod events;
pub mod reconcile;
pub mod status;
pub mod triggers;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use baseplate_crd::{App, Platform, labels};
use futures::{Stream, StreamExt, future};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{Controller, WatchStreamExt, controller, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tracing::{info, warn};

use crate::cli::RunArgs;
use crate::http::{self, Health};
use crate::leader;
use crate::metrics::Metrics;
use context::{ChildStores, Context};
use triggers::{NamespaceTrigger, PlatformTrigger};

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let client = counting_client(&metrics).await?;
    let ready = Arc::new(AtomicBool::new(false));
    let health = Health {
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let server = tokio::spawn(http::serve(args.http_address, health, shutdown_signal()));

    let result = if args.leader_election {
        // A standby replica is ready: it serves health and waits for the lease.
        ready.store(true, Ordering::Relaxed);
        let leader_gauge = metrics.clone();
        tokio::select! {
            result = leader::run_as_leader(
                client.clone(),
                &args.lease_namespace,
                &args.lease_name,
                &args.identity,
                move |leading| {
                    leader_gauge.leader.set(i64::from(leading));
                },
                || run_controller(client.clone(), &args, metrics.clone(), None),
            ) => result,
            () = shutdown_signal() => Ok(()),
        }
    } else {
        metrics.leader.set(1);
        run_controller(client, &args, metrics, Some(ready)).await
    };
    server.abort();
    result
}

/// A client for the kubeconfig or in-cluster config that counts its requests by verb.
async fn counting_client(metrics: &Metrics) -> anyhow::Result<Client> {
    let config = kube::Config::infer()
        .await
        .map_err(|e| anyhow::anyhow!("finding the cluster (is KUBECONFIG set?): {e}"))?;
    let requests = metrics.api_requests.clone();
    let counter =
        tower::util::MapRequestLayer::new(move |request: ::http::Request<kube::client::Body>| {
            let verb = crate::metrics::verb(&request).to_string();
            requests
                .get_or_create(&crate::metrics::VerbLabel { verb })
                .inc();
            request
        });
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&counter)
        .build())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
    }
    info!("shutting down");
}

/// Apps are cached without what is never read from the cache and can outweigh the spec:
/// managed fields, and the copy of the whole object `kubectl apply` keeps in an annotation.
fn slim_app(app: &mut DeserializeGuard<App>) {
    let meta = app.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// A label-filtered reflector for one child kind, caching what `slim` leaves of each object
/// (never its managed fields): the cache and its trigger stream. Most kinds are cached as
/// metadata only (`PartialObjectMeta`): the operator needs to know what exists and who owns it.
fn child_reflector<K>(
    client: &Client,
    slim: fn(&mut K),
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = Api::all(client.clone());
    let config = watcher::Config::default().labels(&format!(
        "{}={}",
        labels::MANAGED_BY,
        labels::MANAGED_BY_VALUE
    ));
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(api, config)
            .default_backoff()
            .modify(move |object| {
                object.meta_mut().managed_fields = None;
                slim(object);
            }),
    )
    .touched_objects();
    (store, stream)
}

/// Deployments are cached with their status (for the App's status) but without the pod
/// template, which is most of their size and never read from the cache.
fn slim_deployment(deployment: &mut Deployment) {
    if let Some(spec) = deployment.spec.as_mut() {
        spec.template = Default::default();
    }
}

/// Services and autoscalers have a status but no generation: their spec is cached to tell a status update
/// (frequent for an autoscaler) from an edit, their status is not.
fn slim_autoscaler(hpa: &mut HorizontalPodAutoscaler) {
    hpa.status = None;
}

fn slim_service(service: &mut Service) {
    service.status = None;
}

async fn run_controller(
    client: Client,
    args: &RunArgs,
    metrics: Arc<Metrics>,
    ready: Option<Arc<AtomicBool>>,
) -> anyhow::Result<()> {
    let (config_maps, config_map_events) =
        child_reflector::<PartialObjectMeta<ConfigMap>>(&client, |_| {});
    let (secrets, secret_events) = child_reflector::<PartialObjectMeta<Secret>>(&client, |_| {});
    let (deployments, deployment_events) = child_reflector(&client, slim_deployment);
    let (services, service_events) = child_reflector(&client, slim_service);
    let (hpas, hpa_events) = child_reflector(&client, slim_autoscaler);
    let (pdbs, pdb_events) =
        child_reflector::<PartialObjectMeta<PodDisruptionBudget>>(&client, |_| {});
    let (ingresses, ingress_events) =
        child_reflector::<PartialObjectMeta<Ingress>>(&client, |_| {});
    let children = ChildStores {
        config_maps,
        secrets,
        deployments,
        services,
        horizontal_pod_autoscalers: hpas,
        pod_disruption_budgets: pdbs,
        ingresses,
    };

    let (platforms, platform_writer) = reflector::store::<Platform>();
    let platform_events = reflector::reflector(
        platform_writer,
        watcher(
            Api::<Platform>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff(),
    )
    .filter_map(|event| future::ready(deleted_marked(event)));
    let (namespaces, namespace_writer) = reflector::store::<PartialObjectMeta<Namespace>>();
    let namespace_events = reflector::reflector(
        namespace_writer,
        watcher(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff(),
    )
    .touched_objects();

    let (apps, app_writer) = reflector::store::<DeserializeGuard<App>>();
    let app_events = reflector::reflector(
        app_writer,
        watcher(
            Api::<DeserializeGuard<App>>::all(client.clone()),
            watcher::Config::default().any_semantic(),
        )
        .default_backoff()
        .modify(slim_app),
    )
    .applied_objects();
    let controller = Controller::for_stream(app_events, apps).with_config(
        controller::Config::default()
            .concurrency(args.concurrency)
            .debounce(Duration::from_millis(200)),
    );
    let apps = controller.store();
    let platform_trigger = PlatformTrigger::new(apps.clone(), namespaces.clone());
    let namespace_trigger = NamespaceTrigger::new(apps.clone());

    let reporter = Reporter {
        controller: "baseplate".into(),
        instance: Some(args.identity.clone()),
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        events: events::EventQueue::spawn(Recorder::new(client.clone(), reporter)),
        metrics: metrics.clone(),
        apps: apps.clone(),
        platforms: platforms.clone(),
        namespaces: namespaces.clone(),
        children: children.clone(),
        settings: context::Settings {
            resync: Duration::from_secs(args.resync_seconds),
        },
        memory: Default::default(),
        failures: Default::default(),
        clock: context::now,
        generate_secret: crate::offline::random_secret_value,
    });

    let ctx_events = ctx.events.clone();
    // Keep the Apps-by-condition gauge current, and forget what was remembered of deleted Apps.
    let housekeeping = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            loop {
                let apps = ctx.apps.state();
                ctx.metrics.count_apps(&apps);
                ctx.forget_apps_except(&apps);
                tokio::time::sleep(Duration::from_secs(15)).await;
            }
        })
    };
    let readiness = {
        let caches = children.clone();
        let (platforms, namespaces, apps) = (platforms.clone(), namespaces.clone(), apps.clone());
        tokio::spawn(async move {
            let filled = filled(&platforms).await
                && filled(&namespaces).await
                && filled(&apps).await
                && filled(&caches.deployments).await;
            if filled {
                info!("caches are filled");
                if let Some(ready) = ready {
                    ready.store(true, Ordering::Relaxed);
                }
            }
        })
    };

    info!(
        concurrency = args.concurrency,
        resync_seconds = args.resync_seconds,
        "starting the App controller"
    );
    controller
        .owns_stream(config_map_events)
        .owns_stream(secret_events)
        .owns_stream(deployment_events)
        .owns_stream(service_events)
        .owns_stream(hpa_events)
        .owns_stream(pdb_events)
        .owns_stream(ingress_events)
        .watches_stream(platform_events, move |platform| {
            platform_trigger.affected(&platform)
        })
        .watches_stream(namespace_events, move |namespace| {
            namespace_trigger.affected(&namespace)
        })
        .graceful_shutdown_on(shutdown_signal())
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| {
            if let Err(error) = result {
                match error {
                    controller::Error::ReconcilerFailed(..) => {} // logged by error_policy
                    other => warn!(error = %other, "controller"),
                }
            }
            future::ready(())
        })
        .await;
    housekeeping.abort();
    readiness.abort();
    // Events still queued are written before exit, unless the API server is gone.
    let _ = tokio::time::timeout(Duration::from_secs(5), ctx_events.flushed()).await;
    Ok(())
}

/// `Store::wait_until_ready` that cannot miss its wake-up. kube-runtime's ready signal wakes
/// only the task that polled it last, and the Controller waits on the Apps store too, so a
/// single wait here could sleep forever (and /readyz answer 503) once the Controller polled
/// after it. Asking again every half second sees the signal whoever was woken.
async fn filled<K>(store: &Store<K>) -> bool
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        let wait = tokio::time::timeout(Duration::from_millis(500), store.wait_until_ready());
        if let Ok(result) = wait.await {
            return result.is_ok();
        }
    }
}

/// Platform watch events as objects; a deleted Platform carries a deletion timestamp so its
/// trigger can tell a deletion from an unchanged relist.
fn deleted_marked(
    event: Result<watcher::Event<Platform>, watcher::Error>,
) -> Option<Result<Platform, watcher::Error>> {
    match event {
        Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => Some(Ok(p)),
        Ok(watcher::Event::Delete(mut p)) => {
            p.metadata
                .deletion_timestamp
                .get_or_insert_with(context::now);
            Some(Ok(p))
        }
        Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
        Err(e) => Some(Err(e)),
    }
}
