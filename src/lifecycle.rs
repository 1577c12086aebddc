//! A service's life: the signal that starts a graceful shutdown, and the
//! one drain primitive every spawned server and task follows.

use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// Resolves on SIGTERM (Kubernetes stopping the pod, after its preStop
/// hook) or SIGINT (Ctrl-C in a terminal).
pub async fn signal_received() {
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the service");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// One service's life: when it stops, when it has drained, and every task
/// it spawned, each joined before `serve` returns and each failure
/// surfaced. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    /// Cancelled when shutdown begins (a signal, or a task that failed):
    /// background work stops.
    pub stopping: CancellationToken,
    /// Cancelled once shutdown's NOT_SERVING has been reported: servers
    /// stop accepting and finish what is in flight.
    pub drained: CancellationToken,
    tasks: TaskTracker,
    failures: Arc<Mutex<Vec<anyhow::Error>>>,
}

impl Lifecycle {
    /// A service not stopping yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `task` until it ends; if it fails, its error is kept for
    /// [`Lifecycle::join`] and shutdown begins, so that a server that died
    /// is not a silent hole in the service.
    pub fn spawn<E>(
        &self,
        name: &'static str,
        task: impl Future<Output = Result<(), E>> + Send + 'static,
    ) where
        E: Into<anyhow::Error> + Send + 'static,
    {
        let stopping = self.stopping.clone();
        let failures = Arc::clone(&self.failures);
        self.tasks.spawn(async move {
            if let Err(error) = task.await {
                let error = error.into().context(name);
                tracing::error!(
                    error = format!("{error:#}"),
                    "a server failed; shutting down"
                );
                failures
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(error);
                stopping.cancel();
            }
        });
    }

    /// Waits, for at most `patience`, for every spawned task to end; the
    /// first failure, if any, is the answer.
    pub async fn join(&self, patience: Duration) -> anyhow::Result<()> {
        self.tasks.close();
        if tokio::time::timeout(patience, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(?patience, "background tasks still running; leaving them");
        }
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        match failures.drain(..).next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that fails starts the shutdown and its error is what joining
    /// answers; tasks that end well are joined silently.
    #[tokio::test]
    async fn a_failed_task_stops_the_service_and_surfaces() {
        let life = Lifecycle::new();
        let stopping = life.stopping.clone();
        life.spawn("quiet", async move {
            stopping.cancelled().await;
            anyhow::Ok(())
        });
        life.spawn("metrics server", async {
            Err(std::io::Error::other("address in use"))
        });
        tokio::time::timeout(Duration::from_secs(5), life.stopping.cancelled())
            .await
            .expect("the failure began the shutdown");
        let error = life.join(Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(format!("{error:#}"), "metrics server: address in use");
    }

    /// Joining waits for every task, not only the first to end.
    #[tokio::test]
    async fn join_waits_for_every_task() {
        let life = Lifecycle::new();
        let (done, ended) = tokio::sync::oneshot::channel();
        life.spawn("slow", async move {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = done.send(());
            anyhow::Ok(())
        });
        life.join(Duration::from_secs(5)).await.unwrap();
        assert!(ended.await.is_ok(), "join returned before the task ended");
    }
}
