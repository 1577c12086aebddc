//! The signal that starts a graceful shutdown.

use tokio::signal::unix::{SignalKind, signal};

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
