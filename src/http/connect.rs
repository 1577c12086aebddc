//! The Connect protocol (connectrpc.com/docs/protocol) on the gRPC port:
//! `POST /rmw.v1.<Service>/<Method>` with an `application/json` or
//! `application/proto` body is a unary call; `application/connect+json`
//! or `+proto` to a watch is a server stream. Each is turned into the gRPC
//! request the handlers already serve, and the gRPC answer back: the
//! message, unframed and (for JSON) transcoded; `grpc-status` and its
//! details as Connect's JSON error, with the same ErrorInfo, BadRequest
//! and RetryInfo. gRPC-Web requests go to tonic-web, which does the same
//! for its protocol. Anything else (gRPC, the console) passes by
//! untouched: tonic-web alone would refuse every HTTP/1.1 request that is
//! not gRPC-Web, the console's pages included.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method as HttpMethod, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use tonic::{Code, Status, body::Body};
use tonic_web::GrpcWebLayer;
use tower::{Layer, Service};

use super::{
    json::{Method, Methods},
    stream,
    wire::{error_json, frame, http_status, only_message},
};

/// How a Connect message is encoded: the `Content-Type` after
/// `application/` (unary) or `application/connect+` (streams).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// ProtoJSON.
    Json,
    /// The protobuf binary encoding.
    Proto,
}

/// The protocol a request speaks, by its `Content-Type`.
enum Protocol {
    /// Connect: a unary call, or a stream (`true`).
    Connect(Codec, bool),
    /// gRPC-Web, binary or text.
    GrpcWeb,
    /// gRPC, or not an RPC at all.
    Other,
}

fn classify(headers: &HeaderMap) -> Protocol {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return Protocol::Other;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    match essence.to_ascii_lowercase().as_str() {
        "application/json" => Protocol::Connect(Codec::Json, false),
        "application/proto" => Protocol::Connect(Codec::Proto, false),
        "application/connect+json" => Protocol::Connect(Codec::Json, true),
        "application/connect+proto" => Protocol::Connect(Codec::Proto, true),
        other if other.starts_with("application/grpc-web") => Protocol::GrpcWeb,
        _ => Protocol::Other,
    }
}

/// Serves Connect and gRPC-Web calls by way of the gRPC service it wraps.
#[derive(Clone, Debug)]
pub struct ConnectLayer {
    methods: Arc<Methods>,
    limit: usize,
}

impl ConnectLayer {
    /// Request bodies over `limit` bytes (twice that for JSON, whose text
    /// is longer than the message it carries) are refused OUT_OF_RANGE
    /// before they are read whole, as gRPC messages over the limit are.
    #[must_use]
    pub fn new(methods: Arc<Methods>, limit: usize) -> Self {
        Self { methods, limit }
    }
}

impl<S> Layer<S> for ConnectLayer {
    type Service = Connect<S>;

    fn layer(&self, inner: S) -> Connect<S> {
        Connect {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`ConnectLayer`] wraps around the gRPC stack.
#[derive(Clone, Debug)]
pub struct Connect<S> {
    inner: S,
    layer: ConnectLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<Request<Body>> for Connect<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let (codec, streaming) = match classify(request.headers()) {
            Protocol::Connect(codec, streaming) => (codec, streaming),
            Protocol::GrpcWeb => {
                // The service polled ready is the one that must be called.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                return Box::pin(GrpcWebLayer::new().layer(inner).call(request));
            }
            Protocol::Other => return Box::pin(self.inner.call(request)),
        };
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (request, method) = match layer.to_grpc(request, codec, streaming).await {
                Ok(call) => call,
                Err(status) if streaming => {
                    return Ok(stream::refused(&status, codec, &layer.methods));
                }
                Err(status) => return Ok(layer.error(&status)),
            };
            let response = inner.call(request).await?;
            Ok(if streaming {
                stream::reply(response, method, codec, Arc::clone(&layer.methods))
            } else {
                layer.reply(response, &method, codec).await
            })
        })
    }
}

impl ConnectLayer {
    /// A Connect request as the gRPC request it stands for, with the
    /// method's messages for its answer.
    async fn to_grpc(
        &self,
        request: Request<Body>,
        codec: Codec,
        streaming: bool,
    ) -> Result<(Request<Body>, Method), Status> {
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path();
        let method = self
            .methods
            .get(path)
            .cloned()
            .ok_or_else(|| Status::unimplemented(format!("no method {path}")))?;
        if parts.method != HttpMethod::POST {
            return Err(Status::unimplemented(
                "Connect calls are served as POST (GET is not)",
            ));
        }
        match (method.streaming, streaming) {
            (true, false) => {
                return Err(Status::unimplemented(format!(
                    "{path} answers with a stream: call it with Content-Type application/connect+json (or +proto)"
                )));
            }
            (false, true) => {
                return Err(Status::unimplemented(format!(
                    "{path} is unary: call it with Content-Type application/json (or application/proto)"
                )));
            }
            _ => {}
        }
        let encoding = if streaming {
            "connect-content-encoding"
        } else {
            "content-encoding"
        };
        if let Some(encoding) = parts.headers.get(encoding)
            && encoding != "identity"
        {
            return Err(Status::unimplemented(format!(
                "compression {encoding:?} is not supported: send the body uncompressed"
            )));
        }
        let timeout = connect_timeout(&parts.headers)?;

        let limit = match codec {
            Codec::Proto => self.limit,
            Codec::Json => self.limit.saturating_mul(2),
        };
        let body = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|error| {
                if error.downcast_ref::<LengthLimitError>().is_some() {
                    Status::out_of_range(format!("the request body is over {limit} bytes"))
                } else {
                    Status::cancelled(format!("the request body was not received: {error}"))
                }
            })?
            .to_bytes();
        // A stream's request is one enveloped message.
        let body = if streaming {
            only_message(&body).ok_or_else(|| {
                Status::invalid_argument(
                    "a stream's request must be exactly one uncompressed enveloped message",
                )
            })?
        } else {
            body
        };
        let message = match codec {
            Codec::Proto => body,
            Codec::Json => method
                .request_from_json(&body)
                .map_err(Status::invalid_argument)?
                .into(),
        };

        let headers = &mut parts.headers;
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
            header::ACCEPT_ENCODING,
        ] {
            headers.remove(name);
        }
        for name in [
            "connect-protocol-version",
            "connect-timeout-ms",
            "connect-content-encoding",
            "connect-accept-encoding",
        ] {
            headers.remove(name);
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        if let Some(timeout) = timeout {
            headers.insert("grpc-timeout", timeout);
        }
        let request = Request::from_parts(parts, Body::new(Full::new(frame(&message))));
        Ok((request, method))
    }

    /// A unary gRPC answer as Connect's: the message with 200, or the
    /// error as JSON with the status its code maps to.
    async fn reply(
        &self,
        response: Response<Body>,
        method: &Method,
        codec: Codec,
    ) -> Response<Body> {
        let (mut parts, body) = response.into_parts();
        let collected = match body.collect().await {
            Ok(collected) => collected,
            Err(error) => {
                return self.error(&Status::unavailable(format!(
                    "the reply was cut short: {error}"
                )));
            }
        };
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let data = collected.to_bytes();
        // Errors come trailers-only (the status among the headers); a
        // reply's status follows it in the trailers.
        let mut all = parts.headers.clone();
        all.extend(trailers.clone());
        let status = Status::from_header_map(&all)
            .unwrap_or_else(|| Status::internal("the reply carried no grpc-status"));
        if status.code() != Code::Ok {
            return self.error(&status);
        }
        let Some(message) = only_message(&data) else {
            return self.error(&Status::internal(
                "the reply was not one uncompressed message",
            ));
        };
        let body = match codec {
            Codec::Proto => message,
            Codec::Json => match method.reply_to_json(&message) {
                Ok(json) => json.into(),
                Err(error) => return self.error(&Status::internal(error)),
            },
        };
        strip_grpc(&mut parts.headers);
        for (name, value) in &trailers {
            if !name.as_str().starts_with("grpc-")
                && let Ok(name) = header::HeaderName::try_from(format!("trailer-{name}"))
            {
                parts.headers.append(name, value.clone());
            }
        }
        parts
            .headers
            .insert(header::CONTENT_TYPE, codec.unary_type());
        parts.status = StatusCode::OK;
        Response::from_parts(parts, Body::new(Full::new(body)))
    }

    /// Connect's error answer for `status`: always JSON, whatever the
    /// call's codec.
    fn error(&self, status: &Status) -> Response<Body> {
        let body = serde_json::to_vec(&error_json(&self.methods, status))
            .expect("a JSON value always serializes");
        let mut response = Response::new(Body::new(Full::new(Bytes::from(body))));
        *response.status_mut() = http_status(status.code());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

impl Codec {
    fn unary_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Json => "application/json",
            Self::Proto => "application/proto",
        })
    }

    /// The `Content-Type` of a Connect stream in this codec.
    #[must_use]
    pub fn stream_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Json => "application/connect+json",
            Self::Proto => "application/connect+proto",
        })
    }
}

/// Removes the gRPC transport's own headers, which mean nothing to a
/// Connect client.
pub(super) fn strip_grpc(headers: &mut HeaderMap) {
    let grpc: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("grpc-"))
        .cloned()
        .collect();
    for name in grpc {
        headers.remove(name);
    }
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRAILER);
}

/// `Connect-Timeout-Ms` as the `grpc-timeout` the gRPC stack reads (and
/// caps at `--max-timeout`). At most 10 digits, says the protocol;
/// `grpc-timeout` takes 8, so long ones are sent in seconds.
fn connect_timeout(headers: &HeaderMap) -> Result<Option<HeaderValue>, Status> {
    let Some(value) = headers.get("connect-timeout-ms") else {
        return Ok(None);
    };
    let ms = value
        .to_str()
        .ok()
        .filter(|v| !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            Status::invalid_argument("Connect-Timeout-Ms must be 1 to 10 digits of milliseconds")
        })?;
    let timeout = if ms <= 99_999_999 {
        format!("{ms}m")
    } else {
        format!("{}S", ms / 1000)
    };
    Ok(Some(
        HeaderValue::try_from(timeout).expect("digits and a unit"),
    ))
}
