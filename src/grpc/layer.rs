//! The per-RPC tower layer: every `rmw.v1` call gets its deadline, its
//! span, its metrics and its caller (who it is, and whether the access
//! policy lets it call the method) here, once, instead of in every
//! handler.
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
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use opentelemetry::propagation::Extractor;
use tokio::time::Instant;
use tonic::{
    Code, Status,
    body::Body,
    codegen::http::{HeaderMap, Request, Response},
};
use tower::{Layer, Service};
use tracing::{Instrument, Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::Outcome;
use crate::{
    auth::Access,
    deadline::{CallerDeadline, Deadline},
    error::Error,
    telemetry::metrics::Metrics,
};

/// Adds deadlines, spans and metrics to `rmw.v1` RPCs.
#[derive(Clone, Debug)]
pub struct RpcLayer {
    default_timeout: Duration,
    max_timeout: Duration,
    metrics: Arc<Metrics>,
    access: Arc<Access>,
}

impl RpcLayer {
    /// Requests without `grpc-timeout` get `default_timeout`; none gets
    /// more than `max_timeout`, whatever its caller asked for. Callers
    /// are let in by `access`.
    #[must_use]
    pub fn new(
        default_timeout: Duration,
        max_timeout: Duration,
        metrics: Arc<Metrics>,
        access: Arc<Access>,
    ) -> Self {
        Self {
            default_timeout,
            max_timeout,
            metrics,
            access,
        }
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = Rpc<S>;

    fn layer(&self, inner: S) -> Rpc<S> {
        Rpc {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`RpcLayer`] wraps around the router.
#[derive(Clone, Debug)]
pub struct Rpc<S> {
    inner: S,
    layer: RpcLayer,
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
        let metrics = Arc::clone(&self.layer.metrics);
        let method = metrics.method(request.uri().path());
        // A caller's `grpc-timeout` of hours would hold a pooled connection
        // (and a slot of the pool wait) that long: capped. A watch holds
        // none; it ends at the caller's own deadline.
        let asked = grpc_timeout(request.headers());
        if let Some(asked) = asked {
            let caller = CallerDeadline(Deadline::after(asked));
            request.extensions_mut().insert(caller);
        }
        let timeout = asked
            .unwrap_or(self.layer.default_timeout)
            .min(self.layer.max_timeout);
        let deadline = Deadline::after(timeout);
        request.extensions_mut().insert(deadline);

        let span = tracing::debug_span!(
            "rpc",
            otel.name = method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = method,
            rpc.grpc.status_code = Empty,
            rmw.outcome = Empty,
        );
        if !span.is_disabled() {
            // W3C traceparent from the caller becomes the span's parent.
            let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.extract(&Headers(request.headers()))
            });
            let _ = span.set_parent(parent);
        }

        let mut answer = Answer::new(metrics, method);
        let response = {
            let _entered = span.enter();
            // Refused before it reaches a handler: no identity, or no rule
            // for this method. Let in, its caller goes with it.
            let admitted =
                self.layer
                    .access
                    .admit_call(method, request.headers(), request.extensions());
            match admitted {
                Ok(caller) => {
                    if let Some(caller) = caller {
                        request.extensions_mut().insert(caller);
                    }
                    Ok(self.inner.call(request))
                }
                Err(error) => Err(Status::from(error).into_http()),
            }
        };
        Box::pin(
            async move {
                let result = match response {
                    Err(refused) => Ok(refused),
                    Ok(response) => {
                        match tokio::time::timeout_at(deadline.instant(), response).await {
                            Ok(result) => result,
                            Err(_) => Ok(Status::from(Error::DeadlineExceeded).into_http()),
                        }
                    }
                };
                if let Ok(response) = &result {
                    answer.finish(response, &Span::current());
                }
                result
            }
            .instrument(span),
        )
    }
}

/// Counts an RPC from its start to its answer; an RPC dropped before it
/// was answered (the caller went away) counts as CANCELLED.
struct Answer {
    metrics: Arc<Metrics>,
    method: &'static str,
    started: Instant,
    answered: bool,
}

impl Answer {
    fn new(metrics: Arc<Metrics>, method: &'static str) -> Self {
        metrics.started();
        Self {
            metrics,
            method,
            started: Instant::now(),
            answered: false,
        }
    }

    fn finish(&mut self, response: &Response<Body>, span: &Span) {
        // Errors of a unary RPC come as trailers-only responses, with the
        // status in the headers; a reply's OK comes later in trailers.
        let code = response
            .headers()
            .get("grpc-status")
            .map_or(Code::Ok, |value| Code::from_bytes(value.as_bytes()));
        let outcome = response
            .extensions()
            .get::<Outcome>()
            .map_or("none", |o| o.0);
        // The OpenTelemetry conventions record the numeric code; metrics
        // label with its name.
        span.record("rpc.grpc.status_code", i64::from(i32::from(code)));
        let code = code_name(code);
        span.record("rmw.outcome", outcome);
        self.metrics
            .answered(self.method, code, outcome, self.started.elapsed());
        self.answered = true;
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if !self.answered {
            self.metrics
                .answered(self.method, "CANCELLED", "none", self.started.elapsed());
        }
    }
}

/// A status code as metrics and spans name it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Request headers, as the trace-context propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(tonic::codegen::http::HeaderName::as_str)
            .collect()
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
