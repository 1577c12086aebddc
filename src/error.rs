//! The one error type of the service; its one mapping to gRPC status is
//! the edge's (`src/grpc/status.rs`).
//!
//! Business outcomes (a CAS that did not swap, too little stock) are never
//! errors: they are fields of the response. An `Error` means the request
//! could not be carried out. Its cause is logged here, once, and never sent
//! to the caller.

use std::fmt;

/// Why a request could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; nothing was sent to Redis.
    #[error("invalid argument: {0}")]
    InvalidArgument(Invalid),
    /// A `request_id` came back with other parameters than the first time.
    #[error("request id reused with other parameters")]
    RequestIdReused,
    /// Redis cannot be reached or cannot serve now (down, loading, busy,
    /// failing over, pool wait over). Retrying later is safe.
    #[error("redis unavailable: {0}")]
    Unavailable(String),
    /// The caller's deadline passed before an answer was had.
    #[error("deadline exceeded")]
    DeadlineExceeded,
    /// Redis refused a write because it reached `maxmemory`.
    #[error("redis out of memory: {0}")]
    OutOfMemory(String),
    /// `--max-watches` watches are open; a new one may open once one ends.
    #[error("too many watches: {0} are open")]
    TooManyWatches(usize),
    /// `--max-lease-waiters` callers wait for leases; another may wait
    /// once one is done.
    #[error("too many lease waiters: {0} are waiting")]
    TooManyWaiters(usize),
    /// A watcher read its stream too slowly and was dropped; it resumes
    /// after the last id it received.
    #[error("watch fell behind after {0}")]
    WatchBehind(String),
    /// The service is shutting down: a watch resumes on another instance.
    #[error("shutting down")]
    ShuttingDown,
    /// The records of this tag have no change journal to watch.
    #[error("the change journal of tag {0} is off")]
    JournalOff(String),
    /// The caller showed no identity where the policy needs one, or one
    /// that does not hold (a token expired, for another audience, not
    /// signed by a configured key).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The access policy does not let the caller do this.
    #[error("permission denied: {kind} {name}")]
    PermissionDenied {
        /// What was refused: `method`, or a resource kind (`store`, …).
        kind: &'static str,
        /// The method or resource refused.
        name: String,
    },
    /// Something that cannot happen did: a script replied something
    /// unexpected, or a script's SHA did not match.
    #[error("internal error in {context}: {detail}")]
    Internal {
        /// Where: a script name, or a part of the service.
        context: &'static str,
        /// What happened, for the log.
        detail: String,
    },
}

impl Error {
    /// An internal error in `context`.
    pub fn internal(context: &'static str, detail: impl fmt::Display) -> Self {
        Self::Internal {
            context,
            detail: detail.to_string(),
        }
    }

    /// A request whose one `field` breaks its rules.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(Invalid {
            reason: InvalidReason::InvalidArgument,
            violations: vec![Violation {
                field: field.into(),
                description: description.into(),
            }],
        })
    }

    /// The `google.rpc.ErrorInfo` reason sent with this error.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidArgument(invalid) => invalid.reason.as_str(),
            Self::RequestIdReused => "REQUEST_ID_REUSED",
            Self::Unavailable(_) => "REDIS_UNAVAILABLE",
            Self::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Self::OutOfMemory(_) => "REDIS_OUT_OF_MEMORY",
            Self::TooManyWatches(_) => "TOO_MANY_WATCHES",
            Self::TooManyWaiters(_) => "TOO_MANY_WAITERS",
            Self::WatchBehind(_) => "WATCH_BEHIND",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::JournalOff(_) => "JOURNAL_OFF",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::PermissionDenied { .. } => "PERMISSION_DENIED",
            Self::Internal { .. } => "INTERNAL",
        }
    }
}

/// A malformed request: every field that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The `ErrorInfo` reason.
    pub reason: InvalidReason,
    /// One entry per offending field.
    pub violations: Vec<Violation>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if v.field.is_empty() {
                f.write_str(&v.description)?;
            } else {
                write!(f, "{}: {}", v.field, v.description)?;
            }
        }
        Ok(())
    }
}

/// Why a request is malformed, as `ErrorInfo.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidReason {
    /// A field breaks its documented rules.
    InvalidArgument,
    /// The keys of a multi-key request hash to more than one cluster slot.
    CrossSlot,
}

impl InvalidReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::CrossSlot => "CROSS_SLOT",
        }
    }
}

/// One field of a request that breaks its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's path in the request, e.g. `writes[2].key`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}
