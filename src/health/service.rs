//! `grpc.health.v1.Health`, with watch streams that end at shutdown.
//!
//! tonic-health's `Watch` streams never end on their own, and a graceful
//! shutdown waits for every open stream: one watching client (Envoy, a
//! mesh) would hold the drain for its whole timeout. Here a watch stream
//! delivers the final NOT_SERVING, then ends.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tokio_stream::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::{Request, Response, Status};
use tonic_health::{
    pb::{HealthCheckRequest, HealthCheckResponse, health_server::Health},
    server::{HealthReporter, HealthService},
};

/// The health service; `drained` is cancelled once shutdown's NOT_SERVING
/// has been reported.
pub struct DrainingHealth {
    inner: HealthService,
    drained: CancellationToken,
}

impl DrainingHealth {
    /// Serves the statuses of `reporter`.
    #[must_use]
    pub fn new(reporter: HealthReporter, drained: CancellationToken) -> Self {
        Self {
            inner: HealthService::from_health_reporter(reporter),
            drained,
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
            drained: Box::pin(self.drained.clone().cancelled_owned()),
        }))
    }
}

/// Health updates until the service drains.
pub struct UntilDrained {
    updates: Updates,
    drained: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Stream for UntilDrained {
    type Item = Result<HealthCheckResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Updates first: NOT_SERVING is reported before the drain begins,
        // so it is delivered before the stream ends.
        if let Poll::Ready(update) = self.updates.as_mut().poll_next(cx) {
            return Poll::Ready(update);
        }
        self.drained.as_mut().poll(cx).map(|()| None)
    }
}
