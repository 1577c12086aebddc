//! Redis: the connection, the scripts, and how their failures read.
//!
//! `Redis::eval` is the one way the service talks to Redis for an
//! operation: it leases a connection, sends `EVALSHA`, and on `NOSCRIPT`
//! (Redis restarted, failed over, `SCRIPT FLUSH`) loads the script, checks
//! the SHA Redis answers against the one computed here, and sends once more
//! (up to `NOSCRIPT_RELOADS` times, should the cache be flushed again in
//! between), invisibly to the caller.
//!
//! Standalone and Redis Cluster share that path: it is generic over
//! `Link`, a connection that can send a command to where a script runs.
//! Only the cluster adds a loop around it, for the replies that say the
//! script did not run *yet* (a slot moving, a failover under way).
//!
//! One file per concern: `eval` (the path above), `cluster` (its pool,
//! slot map and resend loop), `check` (health's check of the scripts on
//! every node), `failure` (how a failed call reads), `link` (where a
//! command goes), `metrics` (what Prometheus reads), `pool` (standalone),
//! and `scripts` (with `field`, the stream field codes they write), `call`,
//! `reply`; `doorbell`, the one blocking command (a watch waiting for a
//! stream), on connections of its own.

mod call;
mod check;
mod cluster;
pub mod doorbell;
mod eval;
mod failure;
pub mod field;
mod link;
mod metrics;
mod pool;
mod reply;
mod scripts;
pub mod slot;

use std::{sync::Arc, time::Duration};

use redis::{
    Client, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError, RedisResult, TlsCertificates,
};

pub use call::Call;
pub use doorbell::Doorbell;
pub use pool::{PoolMode, PoolStatistics};
pub use reply::Reply;
pub use scripts::{NodeScript, Script, ScriptStates};

use crate::{deadline::Deadline, error::Error};
use cluster::ClusterPool;
use failure::ErrorCounts;
use pool::StandalonePool;

/// How to reach Redis.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URLs: one for a standalone Redis, or seed
    /// nodes of a Redis Cluster.
    pub urls: Vec<String>,
    /// Whether `urls` are nodes of a Redis Cluster.
    pub cluster: bool,
    /// Connections in the pool.
    pub pool_size: u32,
    /// How long a request may wait for a connection.
    pub pool_wait: Duration,
    /// How requests use pooled connections (standalone only: a cluster
    /// connection is always shared).
    pub pool_mode: PoolMode,
    /// The longest deadline a request can have: no call waits longer for
    /// Redis to answer.
    pub max_timeout: Duration,
    /// For `rediss://`: a client certificate to present (Redis with
    /// `tls-auth-clients yes`) and the CA to check the server with, instead
    /// of the system's roots.
    pub certificates: Option<TlsCertificates>,
}

/// The connection settings of `url`, with `certificates` when given.
pub(crate) fn connection_info(
    url: &str,
    certificates: Option<&TlsCertificates>,
) -> RedisResult<ConnectionInfo> {
    match certificates {
        None => url.into_connection_info(),
        Some(certificates) => Ok(Client::build_with_tls(url, certificates.clone())?
            .get_connection_info()
            .clone()),
    }
}

/// The service's handle on Redis; cheap to clone.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Redis");
        match &self.inner.backend {
            Backend::Standalone { node, .. } => debug.field("node", node),
            Backend::Cluster(_) => debug.field("cluster", &true),
        };
        debug.finish_non_exhaustive()
    }
}

struct Inner {
    backend: Backend,
    states: ScriptStates,
    errors: ErrorCounts,
    /// Told when a call found Redis unavailable.
    trouble: tokio::sync::Notify,
}

enum Backend {
    Standalone {
        pool: StandalonePool,
        /// The node's address, as reported by admin and health.
        node: String,
        /// How to reach it, for connections of their own (doorbells).
        info: Box<ConnectionInfo>,
    },
    Cluster(Box<ClusterPool>),
}

impl Redis {
    /// A handle on the Redis of `config`. Connections are made in the
    /// background: this succeeds while Redis is down.
    pub fn new(config: &RedisConfig) -> Result<Self, RedisError> {
        let states = ScriptStates::default();
        let backend = if config.cluster {
            Backend::Cluster(Box::new(ClusterPool::new(config)?))
        } else {
            let [url] = config.urls.as_slice() else {
                return Err(RedisError::from((
                    ErrorKind::InvalidClientConfig,
                    "several Redis URLs are the seed nodes of a Redis Cluster: enable cluster mode",
                )));
            };
            let info = connection_info(url, config.certificates.as_ref())?;
            let node = info.addr().to_string();
            let pool = StandalonePool::new(
                info.clone(),
                config.pool_size,
                config.pool_wait,
                config.pool_mode,
            )?;
            // The one node is known from the start; a cluster's primaries
            // are added by the checks that find them.
            states.add(&node);
            Backend::Standalone {
                pool,
                node,
                info: Box::new(info),
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                states,
                errors: ErrorCounts::default(),
                trouble: tokio::sync::Notify::new(),
            }),
        })
    }

    /// Runs `call`'s script by `deadline`. Nothing is sent once the
    /// deadline has passed.
    pub async fn eval(&self, call: &Call, deadline: Deadline) -> Result<Reply, Error> {
        let result = self.eval_once(call, deadline).await;
        if let Err(error) = &result {
            self.inner.errors.count(error);
            if matches!(error, Error::Unavailable(_)) {
                self.inner.trouble.notify_one();
            }
        }
        result
    }

    /// Returns once a call has found Redis unavailable (at once if one did
    /// since the last time this returned), so that health can check now
    /// rather than at its next interval.
    pub async fn trouble(&self) {
        self.inner.trouble.notified().await;
    }

    /// What every node has of every script.
    #[must_use]
    pub fn script_states(&self) -> &ScriptStates {
        &self.inner.states
    }
}
