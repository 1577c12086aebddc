//! The instant by which a request must be answered.

use std::time::Duration;

use tokio::time::Instant;

/// When a request stops being worth answering: the caller's `grpc-timeout`,
/// or the configured default. Carried from the gRPC edge down to the Redis
/// call, so that nothing is sent to Redis that cannot be answered in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline `timeout` from now.
    #[must_use]
    pub fn after(timeout: Duration) -> Self {
        Self(Instant::now() + timeout)
    }

    /// The time left, or `None` once the deadline has passed.
    #[must_use]
    pub fn remaining(self) -> Option<Duration> {
        self.0
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    /// The deadline as a tokio instant, for `timeout_at`.
    #[must_use]
    pub fn instant(self) -> Instant {
        self.0
    }
}

/// The deadline a caller set with `grpc-timeout`, as it set it (not the
/// default, not capped by `--max-timeout`): a watch lasts until it, or
/// as long as its caller reads when it set none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallerDeadline(pub Deadline);
