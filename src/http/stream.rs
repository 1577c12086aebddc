//! A Connect server stream (a watch) from the gRPC one: each gRPC frame
//! becomes an envelope (its message transcoded for JSON), and the gRPC
//! status, trailers-only or in the trailers, becomes the end-of-stream
//! envelope (flag 0x02) that carries Connect's JSON error, if any, and
//! the trailers as metadata. The HTTP status is 200 throughout, as the
//! protocol says: the outcome is in the last envelope.

use std::{
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use bytes::{Buf as _, Bytes, BytesMut};
use http::{HeaderMap, Response, StatusCode, header};
use http_body::{Body as HttpBody, Frame};
use tonic::{Code, Status, body::Body};

use super::{
    connect::{Codec, strip_grpc},
    json::{Method, Methods},
    wire::{envelope, error_json},
};

/// Connect's end-of-stream flag.
const END_STREAM: u8 = 0x02;

/// The gRPC stream `response` as a Connect stream.
pub fn reply(
    response: Response<Body>,
    method: Method,
    codec: Codec,
    methods: Arc<Methods>,
) -> Response<Body> {
    let (mut parts, inner) = response.into_parts();
    // An error before the first message comes trailers-only.
    let early = Status::from_header_map(&parts.headers);
    strip_grpc(&mut parts.headers);
    parts
        .headers
        .insert(header::CONTENT_TYPE, codec.stream_type());
    parts.status = StatusCode::OK;
    let body = Envelopes {
        inner,
        buffer: BytesMut::new(),
        method,
        codec,
        methods,
        early,
        done: false,
    };
    Response::from_parts(parts, Body::new(body))
}

/// A stream refused before it began: as a stream that ends at once with
/// the error, which is how Connect clients read a stream's errors.
pub fn refused(status: &Status, codec: Codec, methods: &Arc<Methods>) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(end_of_stream(
        methods, status, None,
    ))));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, codec.stream_type());
    response
}

/// The end-of-stream envelope for `status`, with `trailers` as its
/// metadata.
fn end_of_stream(methods: &Methods, status: &Status, trailers: Option<&HeaderMap>) -> Bytes {
    let mut end = serde_json::Map::new();
    if status.code() != Code::Ok {
        end.insert("error".into(), error_json(methods, status));
    }
    let mut metadata = serde_json::Map::new();
    for (name, value) in trailers.into_iter().flatten() {
        if name.as_str().starts_with("grpc-") {
            continue;
        }
        if let Ok(value) = value.to_str() {
            let values = metadata
                .entry(name.as_str())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(values) = values {
                values.push(value.into());
            }
        }
    }
    if !metadata.is_empty() {
        end.insert("metadata".into(), metadata.into());
    }
    let json = serde_json::to_vec(&end).expect("a JSON value always serializes");
    envelope(END_STREAM, &json)
}

/// The body of a Connect stream, read from a gRPC one.
struct Envelopes {
    inner: Body,
    /// Received gRPC bytes not yet a whole frame.
    buffer: BytesMut,
    method: Method,
    codec: Codec,
    methods: Arc<Methods>,
    early: Option<Status>,
    done: bool,
}

impl Envelopes {
    /// Every whole frame received so far, as envelopes; or, when one does
    /// not transcode, the end of the stream with INTERNAL.
    fn drain(&mut self) -> Bytes {
        let mut out = BytesMut::new();
        while let Some(&[flags, a, b, c, d]) = self.buffer.first_chunk::<5>() {
            let length = u32::from_be_bytes([a, b, c, d]) as usize;
            if self.buffer.len() < 5 + length {
                break;
            }
            self.buffer.advance(5);
            let message = self.buffer.split_to(length).freeze();
            let converted = match (flags, self.codec) {
                (0, Codec::Proto) => Ok(message),
                (0, Codec::Json) => self.method.reply_to_json(&message).map(Bytes::from),
                _ => Err("a compressed message, which was not asked for".to_owned()),
            };
            match converted {
                Ok(message) => out.extend_from_slice(&envelope(0, &message)),
                Err(error) => {
                    out.extend_from_slice(&self.end(&Status::internal(error), None));
                    break;
                }
            }
        }
        out.freeze()
    }

    /// The end-of-stream envelope for `status`, with `trailers` as its
    /// metadata; nothing is sent after it.
    fn end(&mut self, status: &Status, trailers: Option<&HeaderMap>) -> Bytes {
        self.done = true;
        end_of_stream(&self.methods, status, trailers)
    }
}

impl HttpBody for Envelopes {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if let Some(status) = this.early.take() {
            return Poll::Ready(Some(Ok(Frame::data(this.end(&status, None)))));
        }
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let out = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        this.buffer.extend_from_slice(&data);
                        this.drain()
                    }
                    Err(frame) => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        let status = Status::from_header_map(&trailers).unwrap_or_else(|| {
                            Status::internal("the stream ended without a grpc-status")
                        });
                        this.end(&status, Some(&trailers))
                    }
                },
                Some(Err(error)) => this.end(
                    &Status::unavailable(format!("the stream broke: {error}")),
                    None,
                ),
                None => this.end(
                    &Status::internal("the stream ended without a grpc-status"),
                    None,
                ),
            };
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(out))));
            }
        }
    }
}
