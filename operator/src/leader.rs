//! Leader election over a coordination.k8s.io Lease: only the holder reconciles, so two replicas
//! are safe; a replica that loses the lease stops at once.

use std::future::Future;
use std::sync::Arc;

use std::pin::Pin;
use std::task::{Context, Poll};

use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};

use crate::RunError;
use crate::metrics::Metrics;
use crate::settings::LeaderElection;

/// Runs `work` while this replica leads, or right away without election. `work` gets a future
/// that completes when it must stop: on shutdown, or when the lease is lost.
pub async fn run_while_leading<W, F>(
    client: kube::Client,
    election: Option<&LeaderElection>,
    identity: &str,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
    work: W,
) -> Result<(), RunError>
where
    W: FnOnce(Stop) -> F,
    F: Future<Output = ()>,
{
    let Some(election) = election else {
        metrics.set_leader(true);
        work(Stop::when(stopped(shutdown))).await;
        metrics.set_leader(false);
        return Ok(());
    };

    // Each replica applies the lease under a field manager of its own (the library derives it from
    // the identity): server-side apply conflicts between managers are what make the lock
    // exclusive, so the operator's shared field manager must not be used here.
    let manager = LeaseManagerBuilder::new(client, &election.lease_name)
        .with_namespace(&election.namespace)
        .with_identity(identity)
        .with_duration(election.lease_duration.as_secs().max(2))
        .with_grace((election.lease_duration.as_secs() / 3).max(1))
        .build()
        .await
        .map_err(|source| RunError::LeaderElection {
            lease: format!("{}/{}", election.namespace, election.lease_name),
            source,
        })?;
    let (mut leading, task) = manager.watch().await;

    info!(lease = %election.lease_name, namespace = %election.namespace, identity, "waiting for the leader lease");
    let waiting_shutdown = shutdown.clone();
    loop {
        if *leading.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = leading.changed() => if changed.is_err() {
                return Err(RunError::LeaseLost);
            },
            () = stopped(waiting_shutdown.clone()) => {
                drop(leading);
                let _ = task.await;
                return Ok(());
            }
        }
    }
    info!(identity, "acquired the leader lease");
    metrics.set_leader(true);

    let (lost_tx, lost_rx) = watch::channel(false);
    let mut watch_lease = leading.clone();
    let lease_watch = tokio::spawn(async move {
        while watch_lease.changed().await.is_ok() {
            if !*watch_lease.borrow_and_update() {
                break;
            }
        }
        let _ = lost_tx.send(true);
    });
    let stop = {
        let shutdown = stopped(shutdown);
        async move {
            tokio::select! {
                () = shutdown => {},
                () = stopped(lost_rx) => {},
            }
        }
    };
    work(Stop::when(stop)).await;
    metrics.set_leader(false);

    let lost = lease_watch.is_finished() && !*leading.borrow();
    lease_watch.abort();
    drop(leading);
    // Closing the channel makes the manager release the lease for the next replica.
    if let Ok(Err(error)) = task.await {
        warn!(%error, "could not release the leader lease; it expires on its own");
    }
    if lost {
        Err(RunError::LeaseLost)
    } else {
        Ok(())
    }
}

async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Completes when the work must stop. Unlike most futures it is `Sync`, as the controller's
/// graceful shutdown asks.
#[derive(Debug)]
pub struct Stop(oneshot::Receiver<()>);

impl Stop {
    fn when(signal: impl Future<Output = ()> + Send + 'static) -> Self {
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            signal.await;
            let _ = tx.send(());
        });
        Stop(rx)
    }
}

impl Future for Stop {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A dropped sender means the signal task is gone; stopping is the safe reading.
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}
