//! The one mapping of the service's errors to gRPC status, with
//! `google.rpc` details (`ErrorInfo`, `BadRequest`, `RetryInfo`).
//!
//! The cause of an error is logged here, once, and never sent to the
//! caller.

use std::{collections::HashMap, time::Duration};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::error::Error;

/// The `google.rpc.ErrorInfo` domain of every error.
pub const DOMAIN: &str = "rmw.v1";

/// How long a caller should wait before retrying an UNAVAILABLE request.
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// How long a caller refused a watch should wait before asking again.
const WATCH_RETRY_DELAY: Duration = Duration::from_secs(1);

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let reason = error.reason();
        let mut details = ErrorDetails::with_error_info(reason, DOMAIN, HashMap::new());
        let (code, message) = match &error {
            Error::InvalidArgument(invalid) => {
                details.set_bad_request(
                    invalid
                        .violations
                        .iter()
                        .map(|v| FieldViolation::new(&v.field, &v.description))
                        .collect::<Vec<_>>(),
                );
                (Code::InvalidArgument, format!("invalid request: {invalid}"))
            }
            Error::RequestIdReused => (
                Code::AlreadyExists,
                "request_id was used before with other parameters".to_owned(),
            ),
            Error::Unavailable(cause) => {
                tracing::warn!(%cause, "redis unavailable");
                details.set_retry_info(Some(RETRY_DELAY));
                (
                    Code::Unavailable,
                    "redis is unavailable; retry later".to_owned(),
                )
            }
            Error::DeadlineExceeded => (Code::DeadlineExceeded, "deadline exceeded".to_owned()),
            Error::OutOfMemory(cause) => {
                tracing::warn!(%cause, "redis out of memory");
                (
                    Code::ResourceExhausted,
                    "redis is out of memory; nothing was written".to_owned(),
                )
            }
            Error::TooManyWatches(open) => {
                details.set_retry_info(Some(WATCH_RETRY_DELAY));
                (
                    Code::ResourceExhausted,
                    format!("{open} watches are open (--max-watches); retry later"),
                )
            }
            Error::TooManyWaiters(waiting) => {
                details.set_retry_info(Some(WATCH_RETRY_DELAY));
                (
                    Code::ResourceExhausted,
                    format!(
                        "{waiting} callers wait for leases (--max-lease-waiters); retry later, \
                         or without wait"
                    ),
                )
            }
            Error::WatchBehind(last) => {
                details.set_error_info(
                    error.reason(),
                    DOMAIN,
                    HashMap::from([("last_id".to_owned(), last.clone())]),
                );
                (
                    Code::Aborted,
                    format!("the watcher read too slowly; resume after {last}"),
                )
            }
            Error::ShuttingDown => {
                details.set_retry_info(Some(RETRY_DELAY));
                (
                    Code::Unavailable,
                    "the service is shutting down; resume the watch elsewhere".to_owned(),
                )
            }
            Error::JournalOff(tag) => (
                Code::FailedPrecondition,
                format!("the change journal of tag {tag} is off: EnableJournal turns it on"),
            ),
            Error::Unauthenticated(why) => (Code::Unauthenticated, why.clone()),
            Error::PermissionDenied { kind, name } => {
                details.set_error_info(
                    error.reason(),
                    DOMAIN,
                    HashMap::from([
                        ("kind".to_owned(), (*kind).to_owned()),
                        ("name".to_owned(), name.clone()),
                    ]),
                );
                (
                    Code::PermissionDenied,
                    format!("the access policy does not grant this caller {kind} {name}"),
                )
            }
            Error::Internal { context, detail } => {
                tracing::error!(context, detail, "internal error");
                (Code::Internal, "internal error".to_owned())
            }
        };
        Status::with_error_details(code, message, details)
    }
}
