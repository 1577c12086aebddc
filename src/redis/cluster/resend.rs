//! The cluster's resend loop: a call the cluster proves it did not run
//! (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, ...) is sent again, redirected or
//! after a pause, until its deadline; a call that may have run never is.

use std::{sync::atomic::Ordering, time::Duration};

use redis::{ErrorKind, RedisError, ServerErrorKind, Value};

use super::ClusterPool;
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Redis, failure::Failure, link::Target},
};

/// The first pause before sending again a call the cluster did not run.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause: a failover takes a second or two (node timeout plus
/// election), a slot migration milliseconds.
const MAX_PAUSE: Duration = Duration::from_millis(100);
/// Redirections followed without a pause, before pausing as for any other
/// reason to send again.
const REDIRECTS_IN_A_ROW: u32 = 4;

/// Why a call was sent again.
pub(super) const RESEND_REASONS: [&str; 7] = [
    "moved",
    "ask",
    "tryagain",
    "down",
    "readonly",
    "noscript",
    "unreachable",
];

impl Redis {
    /// Runs `call` in the cluster: routed by the slot of its keys, and sent
    /// again, until `deadline`, while the cluster answers that it did not
    /// run it (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, a primary not reachable).
    /// A call that may have run is never sent again: its outcome is
    /// unknown, and the caller hears UNAVAILABLE (README: "Errors").
    pub(in crate::redis) async fn eval_in_cluster(
        &self,
        cluster: &ClusterPool,
        call: &Call,
        deadline: Deadline,
    ) -> Result<Value, Error> {
        let mut conn = cluster.lease(deadline).await?;
        let slot = call.slot();
        let mut redirect: Option<Redirect> = None;
        let mut pause = FIRST_PAUSE;
        let mut redirects_in_a_row = 0;
        loop {
            let (to, node) = match &redirect {
                Some(redirect) => (redirect.target(), Some(redirect.node.clone())),
                None => (Target::Slot(slot), cluster.node_of(slot)),
            };
            let attempt = self.eval_on(&mut conn, to, node.as_deref(), call);
            let Ok(result) = tokio::time::timeout_at(deadline.instant(), attempt).await else {
                return Err(Error::DeadlineExceeded);
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(Failure::Redis(error)) if not_run(&error) => error,
                Err(failure) => return Err(failure.into_error(deadline)),
            };
            cluster.count_resend(&error);
            redirect = Redirect::of(&error);
            redirects_in_a_row = if redirect.is_some() {
                redirects_in_a_row + 1
            } else {
                0
            };
            // A redirection is followed at once, unless redirections go in
            // circles while the slot map settles; anything else waits for
            // the cluster to settle.
            if redirect.is_none() || redirects_in_a_row > REDIRECTS_IN_A_ROW {
                if deadline.remaining().is_none_or(|left| left <= pause) {
                    // Not run, and no time left to send it again.
                    return Err(Error::Unavailable(error.to_string()));
                }
                tracing::debug!(%error, "the cluster did not run the script; sending it again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
                redirects_in_a_row = 0;
            }
        }
    }
}

impl ClusterPool {
    /// Counts a call sent again after `error` (one [`not_run`] accepts).
    fn count_resend(&self, error: &RedisError) {
        let reason = match error.kind() {
            ErrorKind::Server(ServerErrorKind::Moved) => 0,
            ErrorKind::Server(ServerErrorKind::Ask) => 1,
            ErrorKind::Server(ServerErrorKind::TryAgain) => 2,
            ErrorKind::Server(ServerErrorKind::ClusterDown | ServerErrorKind::MasterDown) => 3,
            ErrorKind::Server(ServerErrorKind::ReadOnly) => 4,
            ErrorKind::Server(ServerErrorKind::NoScript) => 5,
            _ => 6,
        };
        self.resends[reason].fetch_add(1, Ordering::Relaxed);
    }

    /// Calls sent again so far, by reason.
    pub fn resends(&self) -> Vec<(&'static str, u64)> {
        RESEND_REASONS
            .iter()
            .zip(&self.resends)
            .map(|(reason, n)| (*reason, n.load(Ordering::Relaxed)))
            .collect()
    }
}

/// Whether `error` proves the script was not run, so sending it again
/// cannot apply it twice: the node does not serve the slot (MOVED, ASK), a
/// slot is half migrated (TRYAGAIN), the cluster or the slot's primary is
/// down (CLUSTERDOWN, MASTERDOWN), the node was demoted (READONLY: Redis
/// checks a writing script's flags before running it), the node lacks the
/// script even after it was loaded (NOSCRIPT: while the slot map is stale
/// the cluster connection may send the load and the call to different
/// nodes of the shard), or the cluster connection had no connection to
/// send it over. A dropped connection or a timeout proves nothing: the
/// reply may be what was lost. Nor does a refused connection: when
/// re-reading the slot map fails, redis-rs answers every call in flight,
/// sent or not, with that failure, typically a reconnect to a dead node
/// refused.
fn not_run(error: &RedisError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Server(
            ServerErrorKind::Moved
                | ServerErrorKind::Ask
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly
                | ServerErrorKind::NoScript
        ) | ErrorKind::ClusterConnectionNotFound
    )
}

/// Where MOVED or ASK sent a call.
struct Redirect {
    /// The node, `host:port`.
    pub node: String,
    /// The call's slot.
    slot: u16,
    /// ASK: the node imports the slot, and serves the call after `ASKING`.
    asking: bool,
}

impl Redirect {
    /// The redirection `error` gives, if it is MOVED or ASK.
    pub fn of(error: &RedisError) -> Option<Self> {
        let (node, slot) = error.redirect_node()?;
        Some(Self {
            node: node.to_owned(),
            slot,
            asking: error.kind() == ErrorKind::Server(ServerErrorKind::Ask),
        })
    }

    /// Where to send the call. ASK: to the node named, after `ASKING`.
    /// MOVED: by slot again. The MOVED made the cluster connection re-read
    /// the slot map, and it sends nothing more until it has; sent by
    /// address instead, to a node it holds no connection to (a replica
    /// promoted a moment ago), the call would make it reconnect to every
    /// seed node.
    pub fn target(&self) -> Target<'_> {
        if self.asking {
            Target::Asking(&self.node)
        } else {
            Target::Slot(self.slot)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(kind: ServerErrorKind, detail: &str) -> RedisError {
        RedisError::from((ErrorKind::Server(kind), "server", detail.to_owned()))
    }

    /// Sent again: only what Redis refused before running anything.
    #[test]
    fn only_refusals_are_sent_again() {
        for kind in [
            ServerErrorKind::Moved,
            ServerErrorKind::Ask,
            ServerErrorKind::TryAgain,
            ServerErrorKind::ClusterDown,
            ServerErrorKind::MasterDown,
            ServerErrorKind::ReadOnly,
            ServerErrorKind::NoScript,
        ] {
            assert!(not_run(&server(kind, "")), "{kind:?}");
        }
        for unknown in [
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::BrokenPipe,
            std::io::ErrorKind::TimedOut,
        ] {
            let error = RedisError::from(std::io::Error::from(unknown));
            assert!(
                !not_run(&error),
                "{unknown:?}: the reply may be what was lost"
            );
        }
        assert!(!not_run(&server(ServerErrorKind::ResponseError, "OOM")));
    }

    /// MOVED goes by slot again (the map is re-read), ASK to the node named
    /// after ASKING.
    #[test]
    fn redirections() {
        let moved = Redirect::of(&server(ServerErrorKind::Moved, "3999 127.0.0.1:6381")).unwrap();
        assert!(matches!(moved.target(), Target::Slot(3999)));
        let ask = Redirect::of(&server(ServerErrorKind::Ask, "3999 127.0.0.1:6382")).unwrap();
        assert!(matches!(ask.target(), Target::Asking("127.0.0.1:6382")));
        assert!(Redirect::of(&server(ServerErrorKind::TryAgain, "")).is_none());
    }
}
