//! The per-RPC tower layer: every `rmw.v1` call gets a deadline here.
//!
//! tonic enforces `grpc-timeout` itself, but answers CANCELLED "Timeout
//! expired". This layer, inside tonic's, derives the same deadline (or the
//! configured default when the caller set none), hands it to the handler
//! through the request's extensions — so nothing is sent to Redis that
//! cannot be answered in time — and answers DEADLINE_EXCEEDED when it
//! passes. Its timer starts before tonic's and is polled first, so its
//! answer is the one the caller sees.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tonic::{
    Status,
    body::Body,
    codegen::http::{HeaderMap, Request, Response},
};
use tower::{Layer, Service};

use crate::{deadline::Deadline, error::Error};

/// Adds deadlines to `rmw.v1` RPCs.
#[derive(Clone, Copy, Debug)]
pub struct RpcLayer {
    default_timeout: Duration,
}

impl RpcLayer {
    /// Requests without `grpc-timeout` get `default_timeout`.
    #[must_use]
    pub fn new(default_timeout: Duration) -> Self {
        Self { default_timeout }
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = Rpc<S>;

    fn layer(&self, inner: S) -> Rpc<S> {
        Rpc {
            inner,
            default_timeout: self.default_timeout,
        }
    }
}

/// The service [`RpcLayer`] wraps around the router.
#[derive(Clone, Debug)]
pub struct Rpc<S> {
    inner: S,
    default_timeout: Duration,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> Service<Request<B>> for Rpc<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // Health and reflection are left alone: their streams are long-lived.
        if !request.uri().path().starts_with("/rmw.v1.") {
            return Box::pin(self.inner.call(request));
        }
        let timeout = grpc_timeout(request.headers()).unwrap_or(self.default_timeout);
        let deadline = Deadline::after(timeout);
        request.extensions_mut().insert(deadline);
        let response = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout_at(deadline.instant(), response).await {
                Ok(result) => result,
                Err(_) => Ok(Status::from(Error::DeadlineExceeded).into_http()),
            }
        })
    }
}

/// The `grpc-timeout` header: at most 8 digits and a unit (H M S m u n).
fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().unwrap());
        grpc_timeout(&headers)
    }

    /// Every unit of the gRPC wire spec, and malformed values ignored.
    #[test]
    fn grpc_timeout_units() {
        assert_eq!(parse("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse("4S"), Some(Duration::from_secs(4)));
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("99999999u"), Some(Duration::from_micros(99_999_999)));
        assert_eq!(parse("10n"), Some(Duration::from_nanos(10)));
        for bad in ["", "S", "5", "5x", "-5S", "123456789S"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
