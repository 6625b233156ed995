//! Events leave the reconcile's path: a reconcile queues them and goes on, and a background
//! task publishes them. An event is a courtesy to people; after a Platform change a thousand
//! reconciles should be rolling Deployments, not waiting on a thousand event writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, Recorder};
use tokio::sync::mpsc;
use tracing::warn;

use super::error::is_transient;

/// Events waiting beyond this are dropped with a warning rather than held without bound.
const QUEUE_CAPACITY: usize = 10_000;
/// Event writes in flight at once.
const CONCURRENT_PUBLISHES: usize = 4;

/// The sending end; the publishing task ends when every sender is gone and the queue is empty.
#[derive(Clone)]
pub struct EventQueue {
    sender: mpsc::Sender<(Event, ObjectReference)>,
    /// Events queued or being written.
    pending: Arc<AtomicUsize>,
}

impl EventQueue {
    /// Starts the publishing task on the current runtime.
    pub fn spawn(recorder: Recorder) -> Self {
        let (sender, receiver) = mpsc::channel::<(Event, ObjectReference)>(QUEUE_CAPACITY);
        let pending = Arc::new(AtomicUsize::new(0));
        let done = pending.clone();
        let queued = futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        });
        tokio::spawn(
            queued.for_each_concurrent(
                CONCURRENT_PUBLISHES,
                move |(event, reference)| {
                    let recorder = recorder.clone();
                    let done = done.clone();
                    async move {
                        if let Err(error) = recorder.publish(&event, &reference).await {
                            warn!(%error, retryable = is_transient(&error), reason = %event.reason, "could not publish event");
                        }
                        done.fetch_sub(1, Ordering::AcqRel);
                    }
                },
            ),
        );
        Self { sender, pending }
    }

    pub fn publish(&self, event: Event, reference: ObjectReference) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if let Err(error) = self.sender.try_send((event, reference)) {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            warn!(reason = %error.into_inner().0.reason, "event queue full; event dropped");
        }
    }

    /// Waits until every queued event has been written (or given up on).
    pub async fn flushed(&self) {
        while self.pending.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}
