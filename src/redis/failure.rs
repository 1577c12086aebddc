//! How a failed Redis call reads: as the service's [`Error`], as a reason
//! to drop the connection, and in the error counts.

use std::sync::atomic::{AtomicU64, Ordering};

use redis::{ErrorKind, RedisError};

use super::Script;
use crate::{deadline::Deadline, error::Error};

/// Failed calls, by how they were read.
#[derive(Debug, Default)]
pub(super) struct ErrorCounts {
    unavailable: AtomicU64,
    deadline: AtomicU64,
    out_of_memory: AtomicU64,
    internal: AtomicU64,
}

impl ErrorCounts {
    pub(super) fn count(&self, error: &Error) {
        let counter = match error {
            Error::Unavailable(_) => &self.unavailable,
            Error::DeadlineExceeded => &self.deadline,
            Error::OutOfMemory(_) => &self.out_of_memory,
            Error::Internal { .. } => &self.internal,
            // Not Redis's failures: the request's own.
            Error::InvalidArgument(_)
            | Error::RequestIdReused
            | Error::TooManyWatches(_)
            | Error::TooManyWaiters(_)
            | Error::WatchBehind(_)
            | Error::ShuttingDown
            | Error::JournalOff(_)
            | Error::Unauthenticated(_)
            | Error::PermissionDenied { .. } => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Failed calls so far, by kind.
    pub(super) fn counts(&self) -> [(&'static str, u64); 4] {
        [
            ("unavailable", self.unavailable.load(Ordering::Relaxed)),
            ("deadline_exceeded", self.deadline.load(Ordering::Relaxed)),
            ("out_of_memory", self.out_of_memory.load(Ordering::Relaxed)),
            ("internal", self.internal.load(Ordering::Relaxed)),
        ]
    }
}

/// Why a script call failed, before it is read as an [`Error`].
pub(super) enum Failure {
    Redis(RedisError),
    Sha { script: Script, got: String },
}

impl From<RedisError> for Failure {
    fn from(error: RedisError) -> Self {
        Self::Redis(error)
    }
}

impl From<redis::ParsingError> for Failure {
    fn from(error: redis::ParsingError) -> Self {
        Self::Redis(error.into())
    }
}

impl Failure {
    pub(super) fn into_error(self, deadline: Deadline) -> Error {
        match self {
            Failure::Redis(error) => classify(&error, deadline),
            Failure::Sha { script, got } => sha_mismatch(script, &got),
        }
    }
}

fn sha_mismatch(script: Script, got: &str) -> Error {
    Error::internal(
        script.name(),
        format!("SCRIPT LOAD answered SHA {got}, expected {}", script.sha()),
    )
}

/// Whether `error` means the connection itself is gone.
pub(super) fn is_broken(error: &RedisError) -> bool {
    !error.is_timeout()
        && (error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error())
}

/// Whether a health check's `result` means its connection must be
/// replaced: it is gone, or it gave no answer in time, which for a check
/// means the socket may be dead without a reset.
pub(super) fn leaves_link_unusable(result: &Result<(), Failure>) -> bool {
    matches!(result, Err(Failure::Redis(error)) if is_broken(error) || error.is_timeout())
}

/// Reads a Redis failure as the service's error.
pub(crate) fn classify(error: &RedisError, deadline: Deadline) -> Error {
    if error.is_timeout() {
        return if deadline.remaining().is_none() {
            Error::DeadlineExceeded
        } else {
            Error::Unavailable(error.to_string())
        };
    }
    match error.code() {
        Some("OOM") => return Error::OutOfMemory(error.to_string()),
        // Redis is there but cannot serve now: loading its data set, stuck
        // in a long script, a cluster moving slots or failing over, or the
        // script cache flushed again and again under the call.
        Some(
            "BUSY" | "LOADING" | "MASTERDOWN" | "CLUSTERDOWN" | "TRYAGAIN" | "READONLY" | "MOVED"
            | "ASK" | "NOSCRIPT",
        ) => return Error::Unavailable(error.to_string()),
        _ => {}
    }
    if error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(
            error.kind(),
            ErrorKind::AuthenticationFailed | ErrorKind::ClusterConnectionNotFound
        )
    {
        return Error::Unavailable(error.to_string());
    }
    Error::internal("redis", error)
}

impl Error {
    /// Names the script in an internal error that came from its call.
    pub(super) fn in_script(self, script: Script) -> Self {
        match self {
            Error::Internal { detail, .. } => Error::Internal {
                context: script.name(),
                detail,
            },
            other => other,
        }
    }
}
