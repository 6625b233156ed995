//! `baseplate run`: the controller, its caches and its triggers.
//!
//! One reconcile runs the pipeline in `reconcile.rs`: `observe` (namespace labels, Platforms,
//! the App's Secret) → resolve and check → render → `apply` (plan, write, prune, hand-over) →
//! `status` → `events`; `retry` decides when the App is looked at again. `watches` feeds the
//! caches in `context`, and `triggers` maps Platform and Namespace changes to Apps; a pod's
//! change reconciles the App its label names, whose status then says why new pods do not
//! start (`rollout` picks the new version's pods, `pod_health` reads them).

pub mod apply;
pub mod context;
pub mod error;
pub mod event_queue;
pub mod events;
pub mod observe;
pub mod owner;
pub mod platform_rollout;
pub mod pod_health;
pub mod reconcile;
pub mod retry;
pub mod revisions;
pub mod rollout;
pub mod status;
pub mod triggers;
pub mod watches;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{StreamExt, future};
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{Controller, controller};
use tracing::{info, warn};

use crate::cli::RunArgs;
use crate::http::{self, Health};
use crate::leader;
use crate::metrics::Metrics;
use context::Context;
use event_queue::EventQueue;
use triggers::{NamespaceTrigger, PlatformTrigger};

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut registry = crate::metrics::registry();
    let metrics = Metrics::register(&mut registry);
    let client = counting_client(&metrics).await?;
    let ready = Arc::new(AtomicBool::new(false));
    let health = Health {
        registry: Arc::new(registry),
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
                    leader_gauge.set_leader(leading);
                },
                || run_controller(client.clone(), &args, metrics.clone(), None),
            ) => result,
            () = shutdown_signal() => Ok(()),
        }
    } else {
        metrics.set_leader(true);
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
    let metrics = metrics.clone();
    let counter =
        tower::util::MapRequestLayer::new(move |request: ::http::Request<kube::client::Body>| {
            metrics.record_api_request(crate::metrics::verb(&request));
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

async fn run_controller(
    client: Client,
    args: &RunArgs,
    metrics: Metrics,
    ready: Option<Arc<AtomicBool>>,
) -> anyhow::Result<()> {
    let (platforms, platform_events) = watches::platforms(&client);
    let (revisions, revision_events) = watches::platform_revisions(&client, &args.lease_namespace);
    let (namespaces, namespace_events) = watches::namespaces(&client);
    let (apps, app_events) = watches::apps(&client);
    let controller = Controller::for_stream(app_events, apps).with_config(
        controller::Config::default()
            .concurrency(args.concurrency)
            .debounce(Duration::from_millis(200)),
    );
    let apps = controller.store();
    let (controller, children) = watches::own_children(controller, &client);
    let (workload, pod_changes, replica_set_updates) = watches::workload(&client);
    let replica_set_updates = tokio::spawn(replica_set_updates);
    let platform_trigger = PlatformTrigger::new(apps.clone(), namespaces.clone());
    let namespace_trigger = NamespaceTrigger::new(apps.clone());

    let reporter = Reporter {
        controller: "baseplate".into(),
        instance: Some(args.identity.clone()),
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        events: EventQueue::spawn(Recorder::new(client.clone(), reporter)),
        metrics: metrics.clone(),
        apps: apps.clone(),
        platforms: platforms.clone(),
        revisions,
        rollouts: tokio::sync::Notify::new(),
        namespaces: namespaces.clone(),
        children: children.clone(),
        workload,
        settings: context::Settings {
            resync: Duration::from_secs(args.resync_seconds),
            operator_namespace: args.lease_namespace.clone(),
        },
        memory: Default::default(),
        secrets_listed: Default::default(),
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
    // Staged Platforms: revisions, waves and their status, leader-only like the App controller.
    let rollouts = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let caches = (
                ctx.platforms.clone(),
                ctx.apps.clone(),
                ctx.revisions.clone(),
            );
            if watches::filled(&caches.0).await
                && watches::filled(&caches.1).await
                && watches::filled(&caches.2).await
            {
                platform_rollout::run(ctx).await;
            }
        })
    };
    let revision_events = tokio::spawn(revision_events);
    let readiness = {
        let caches = children.clone();
        let (platforms, namespaces, apps) = (platforms.clone(), namespaces.clone(), apps.clone());
        tokio::spawn(async move {
            let filled = watches::filled(&platforms).await
                && watches::filled(&namespaces).await
                && watches::filled(&apps).await
                && watches::filled(&caches.deployments).await;
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
        .watches_stream(platform_events, {
            let ctx = ctx.clone();
            move |platform| {
                ctx.rollouts.notify_one();
                platform_trigger.affected(&platform)
            }
        })
        .watches_stream(namespace_events, move |namespace| {
            namespace_trigger.affected(&namespace)
        })
        .watches_stream(pod_changes, |pod| watches::app_of(&pod))
        .graceful_shutdown_on(shutdown_signal())
        .run(reconcile::reconcile, retry::error_policy, ctx)
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
    rollouts.abort();
    revision_events.abort();
    readiness.abort();
    replica_set_updates.abort();
    // Events still queued are written before exit, unless the API server is gone.
    let _ = tokio::time::timeout(Duration::from_secs(5), ctx_events.flushed()).await;
    Ok(())
}
