//! Connect's wire format: the 5-byte envelope (gRPC's frame has the same
//! shape) and the JSON error with its details.

use base64::{Engine as _, engine::general_purpose::STANDARD_NO_PAD};
use bytes::{BufMut as _, Bytes, BytesMut};
use http::StatusCode;
use prost::Message as _;
use tonic::{Code, Status};

use super::json::Methods;

/// Connect's error body: `code`, `message` and the status's details, each
/// as `type`, `value` (base64 of the encoded message) and `debug` (the
/// same message as JSON, for people reading curl's output).
pub(super) fn error_json(methods: &Methods, status: &Status) -> serde_json::Value {
    let mut error = serde_json::Map::new();
    error.insert("code".into(), code_name(status.code()).into());
    if !status.message().is_empty() {
        error.insert("message".into(), status.message().into());
    }
    let details: Vec<serde_json::Value> = tonic_types::pb::Status::decode(status.details())
        .map(|decoded| decoded.details)
        .unwrap_or_default()
        .into_iter()
        .map(|any| {
            let name = any
                .type_url
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let mut detail = serde_json::Map::new();
            detail.insert("type".into(), name.clone().into());
            detail.insert("value".into(), STANDARD_NO_PAD.encode(&any.value).into());
            if let Some(debug) = methods.detail(&name, &any.value) {
                detail.insert("debug".into(), debug);
            }
            detail.into()
        })
        .collect();
    if !details.is_empty() {
        error.insert("details".into(), details.into());
    }
    error.into()
}

/// A gRPC code as Connect names it.
fn code_name(code: Code) -> &'static str {
    match code {
        // Not an error; never sent as one.
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status of a unary error, as the Connect protocol maps codes.
pub(super) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).expect("a valid status"),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
    }
}

/// A message in gRPC's length-prefixed frame (and a Connect stream's
/// envelope, which has the same shape): flags, length, message.
pub(super) fn frame(message: &[u8]) -> Bytes {
    envelope(0, message)
}

/// `message` behind a 5-byte prefix: `flags`, then its length.
pub(super) fn envelope(flags: u8, message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(flags);
    out.put_u32(u32::try_from(message.len()).expect("messages are limited far below 4 GiB"));
    out.put_slice(message);
    out.freeze()
}

/// The message of a body that holds exactly one uncompressed frame (a
/// unary gRPC reply, a Connect stream's request); `None` otherwise.
pub(super) fn only_message(data: &Bytes) -> Option<Bytes> {
    let (&[0, a, b, c, d], message) = data.split_first_chunk::<5>()? else {
        return None;
    };
    let length = u32::from_be_bytes([a, b, c, d]) as usize;
    (message.len() == length).then(|| data.slice(5..))
}
