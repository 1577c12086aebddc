//! The one error type of the service and its one mapping to gRPC status.
//!
//! Business outcomes (a CAS that did not swap, too little stock) are never
//! errors: they are fields of the response. An `Error` means the request
//! could not be carried out. Its cause is logged here, once, and never sent
//! to the caller.

use std::{collections::HashMap, fmt, time::Duration};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `google.rpc.ErrorInfo` domain of every error.
pub const DOMAIN: &str = "rmw.v1";

/// How long a caller should wait before retrying an UNAVAILABLE request.
const RETRY_DELAY: Duration = Duration::from_millis(200);

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
            Error::Internal { context, detail } => {
                tracing::error!(context, detail, "internal error");
                (Code::Internal, "internal error".to_owned())
            }
        };
        Status::with_error_details(code, message, details)
    }
}

/// The most violations reported for one request. Every violation travels in
/// the response's trailers, which clients bound (HTTP/2 header lists are
/// commonly limited to 16 KiB): a request with a hundred bad items gets the
/// first ones and a count of the rest, not a reset stream.
pub const MAX_VIOLATIONS: usize = 16;

/// Collects the violations of one request, so that a caller learns of every
/// wrong field at once instead of one per round trip.
#[derive(Debug, Default)]
pub struct Fields {
    violations: Vec<Violation>,
    /// Violations past [`MAX_VIOLATIONS`], counted, not kept.
    more: usize,
}

impl Fields {
    /// A fresh collector.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `result`'s value, or records its violation at `field`.
    pub fn take<T>(&mut self, field: impl fmt::Display, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(description) => {
                self.violate(field, description);
                None
            }
        }
    }

    /// Records a violation at `field`.
    pub fn violate(&mut self, field: impl fmt::Display, description: impl Into<String>) {
        if self.violations.len() == MAX_VIOLATIONS {
            self.more += 1;
            return;
        }
        self.violations.push(Violation {
            field: field.to_string(),
            description: description.into(),
        });
    }

    /// Whether no violation was recorded so far.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// The built request, or every violation recorded. `build` returns
    /// `None` only where a `take` recorded a violation.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Error> {
        if !self.violations.is_empty() {
            let mut violations = self.violations;
            if self.more > 0 {
                violations.push(Violation {
                    field: String::new(),
                    description: format!("and {} more violations", self.more),
                });
            }
            return Err(Error::InvalidArgument(Invalid {
                reason: InvalidReason::InvalidArgument,
                violations,
            }));
        }
        build().ok_or_else(|| Error::internal("validation", "a field was dropped silently"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request with many bad fields reports the first ones and a count.
    #[test]
    fn violations_are_capped() {
        let mut fields = Fields::new();
        for i in 0..100 {
            fields.violate(format_args!("items[{i}]"), "bad");
        }
        let Err(Error::InvalidArgument(invalid)) = fields.finish(|| Some(())) else {
            panic!("expected a refusal")
        };
        assert_eq!(invalid.violations.len(), MAX_VIOLATIONS + 1);
        assert_eq!(
            invalid.violations[MAX_VIOLATIONS].description,
            "and 84 more violations"
        );
    }
}
