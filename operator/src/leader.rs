//! Leader election on a Lease (through kube-lease-manager), so two replicas never both write.

use std::future::Future;

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tracing::{info, warn};

/// Runs `work` only while this process holds the lease; stops it the moment the lease is lost
/// and waits to win it again. Returns when `work` returns.
pub async fn run_as_leader<F, Fut>(
    client: Client,
    namespace: &str,
    lease_name: &str,
    identity: &str,
    on_change: impl Fn(bool),
    work: F,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let manager = LeaseManagerBuilder::new(client, lease_name)
        .with_namespace(namespace)
        .with_identity(identity)
        .with_field_manager(format!("baseplate-leader-{identity}"))
        .build()
        .await?;
    let (mut leading, _task) = manager.watch().await;
    loop {
        while !*leading.borrow_and_update() {
            on_change(false);
            info!(lease = lease_name, "standing by for the leader lease");
            leading.changed().await?;
        }
        on_change(true);
        info!(lease = lease_name, "acquired the leader lease");
        let lost = async {
            while *leading.borrow_and_update() {
                if leading.changed().await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            result = work() => return result,
            () = lost => warn!(lease = lease_name, "lost the leader lease; stopping all writes"),
        }
    }
}
