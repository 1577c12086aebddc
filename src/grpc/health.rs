//! `grpc.health.v1.Health`, with watch streams that end at shutdown.
//!
//! tonic-health's `Watch` streams never end on their own, and a graceful
//! shutdown waits for every open stream: one watching client (Envoy, a
//! mesh) would hold the drain for its whole timeout. Here a watch stream
//! delivers the final NOT_SERVING, then ends.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use tokio::sync::watch;
use tokio_stream::{Stream, wrappers::WatchStream};
use tonic::{Request, Response, Status};
use tonic_health::{
    pb::{HealthCheckRequest, HealthCheckResponse, health_server::Health},
    server::{HealthReporter, HealthService},
};

/// The health service; `draining` turns true once shutdown's NOT_SERVING
/// has been reported.
pub struct DrainingHealth {
    inner: HealthService,
    draining: watch::Receiver<bool>,
}

impl DrainingHealth {
    /// Serves the statuses of `reporter`.
    #[must_use]
    pub fn new(reporter: HealthReporter, draining: watch::Receiver<bool>) -> Self {
        Self {
            inner: HealthService::from_health_reporter(reporter),
            draining,
        }
    }
}

type Updates = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for DrainingHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = UntilDrained;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<UntilDrained>, Status> {
        let updates = self.inner.watch(request).await?.into_inner();
        Ok(Response::new(UntilDrained {
            updates: Box::pin(updates),
            draining: WatchStream::new(self.draining.clone()),
        }))
    }
}

/// Health updates until the service drains.
pub struct UntilDrained {
    updates: Updates,
    draining: WatchStream<bool>,
}

impl Stream for UntilDrained {
    type Item = Result<HealthCheckResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Updates first: NOT_SERVING is reported before draining turns
        // true, so it is delivered before the stream ends.
        if let Poll::Ready(update) = self.updates.as_mut().poll_next(cx) {
            return Poll::Ready(update);
        }
        loop {
            match Pin::new(&mut self.draining).poll_next(cx) {
                Poll::Ready(Some(true) | None) => return Poll::Ready(None),
                Poll::Ready(Some(false)) => {}
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
