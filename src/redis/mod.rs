//! Redis: the connection, the scripts, and how their failures read.
//!
//! `Redis::eval` is the one way the service talks to Redis for an
//! operation: it leases a connection, sends `EVALSHA`, and on `NOSCRIPT`
//! (Redis restarted, failed over, `SCRIPT FLUSH`) loads the script, checks
//! the SHA Redis answers against the one computed here, and sends once more,
//! invisibly to the caller.

mod call;
mod pool;
mod reply;
mod scripts;
pub mod slot;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use redis::{
    ErrorKind, IntoConnectionInfo, RedisError, ServerErrorKind, Value, aio::ConnectionLike,
};

pub use call::Call;
pub use pool::{PoolMode, PoolStatistics};
pub use reply::Reply;
pub use scripts::{NodeScript, Script, ScriptStates};

use crate::{deadline::Deadline, error::Error};
use pool::StandalonePool;

/// How to reach Redis.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URL.
    pub url: String,
    /// Connections in the pool.
    pub pool_size: u32,
    /// How long a request may wait for a connection.
    pub pool_wait: Duration,
    /// How requests use pooled connections.
    pub pool_mode: PoolMode,
}

/// The service's handle on Redis; cheap to clone.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("node", &self.inner.node)
            .finish_non_exhaustive()
    }
}

struct Inner {
    pool: StandalonePool,
    /// The node's address, as reported by admin and health.
    node: String,
    states: ScriptStates,
    errors: ErrorCounts,
}

/// Failed calls, by how they were read.
#[derive(Debug, Default)]
struct ErrorCounts {
    unavailable: AtomicU64,
    deadline: AtomicU64,
    out_of_memory: AtomicU64,
    internal: AtomicU64,
}

impl ErrorCounts {
    fn count(&self, error: &Error) {
        let counter = match error {
            Error::Unavailable(_) => &self.unavailable,
            Error::DeadlineExceeded => &self.deadline,
            Error::OutOfMemory(_) => &self.out_of_memory,
            Error::Internal { .. } => &self.internal,
            // Not Redis's failures: the request's own.
            Error::InvalidArgument(_) | Error::RequestIdReused => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a script call failed, before it is read as an [`Error`].
enum Failure {
    Redis(RedisError),
    Sha { script: Script, got: String },
}

impl From<RedisError> for Failure {
    fn from(error: RedisError) -> Self {
        Self::Redis(error)
    }
}

impl Redis {
    /// A handle on the Redis at `config.url`. Connections are made in the
    /// background: this succeeds while Redis is down.
    pub fn new(config: &RedisConfig) -> Result<Self, RedisError> {
        let info = config.url.as_str().into_connection_info()?;
        let node = info.addr().to_string();
        let pool = StandalonePool::new(info, config.pool_size, config.pool_wait, config.pool_mode)?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                node,
                states: ScriptStates::default(),
                errors: ErrorCounts::default(),
            }),
        })
    }

    /// Runs `call`'s script by `deadline`. Nothing is sent once the
    /// deadline has passed.
    pub async fn eval(&self, call: &Call, deadline: Deadline) -> Result<Reply, Error> {
        let result = self.eval_once(call, deadline).await;
        if let Err(error) = &result {
            self.inner.errors.count(error);
        }
        result
    }

    #[tracing::instrument(
        name = "redis.script",
        level = "debug",
        skip_all,
        fields(db.system = "redis", rmw.script = call.script().name())
    )]
    async fn eval_once(&self, call: &Call, deadline: Deadline) -> Result<Reply, Error> {
        let script = call.script();
        let mut lease = self.inner.pool.lease(deadline).await?;
        let left = deadline.remaining().ok_or(Error::DeadlineExceeded)?;
        let conn = lease.conn();
        conn.set_response_timeout(left);
        match self.eval_on(conn, &self.inner.node, call).await {
            Ok(value) => Reply::decode(script, value),
            Err(Failure::Redis(error)) => {
                if is_broken(&error) {
                    lease.mark_broken();
                }
                Err(classify(&error, deadline).in_script(script))
            }
            Err(Failure::Sha { script, got }) => Err(sha_mismatch(script, &got)),
        }
    }

    async fn eval_on<C: ConnectionLike>(
        &self,
        conn: &mut C,
        node: &str,
        call: &Call,
    ) -> Result<Value, Failure> {
        let command = call.command();
        match command.query_async::<Value>(conn).await {
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                let script = call.script();
                self.inner.states.missing(node, script);
                self.load(conn, node, script).await?;
                Ok(command.query_async(conn).await?)
            }
            other => Ok(other?),
        }
    }

    /// `SCRIPT LOAD`s `script` on `node`, checking the SHA Redis answers.
    async fn load<C: ConnectionLike>(
        &self,
        conn: &mut C,
        node: &str,
        script: Script,
    ) -> Result<(), Failure> {
        let got: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(script.source())
            .query_async(conn)
            .await?;
        if got != script.sha() {
            return Err(Failure::Sha { script, got });
        }
        if self.inner.states.loaded(node, script) {
            tracing::info!(script = script.name(), node, "script reloaded");
        }
        Ok(())
    }

    /// Checks that every node answers and has every script, loading what
    /// is missing. Drives health: `Ok` means ready to serve.
    pub async fn check_scripts(&self, deadline: Deadline) -> Result<(), Error> {
        let node = self.inner.node.as_str();
        let mut lease = self.inner.pool.patient_lease(deadline).await?;
        let left = deadline.remaining().ok_or(Error::DeadlineExceeded)?;
        let conn = lease.conn();
        conn.set_response_timeout(left);
        let result = self.check_node(conn, node).await;
        match result {
            Ok(()) => Ok(()),
            Err(Failure::Redis(error)) => {
                if is_broken(&error) || error.is_timeout() {
                    // A health check that cannot get an answer in time
                    // means this socket may be dead without a reset.
                    lease.mark_broken();
                }
                Err(classify(&error, deadline))
            }
            Err(Failure::Sha { script, got }) => Err(sha_mismatch(script, &got)),
        }
    }

    async fn check_node<C: ConnectionLike>(&self, conn: &mut C, node: &str) -> Result<(), Failure> {
        let mut exists = redis::cmd("SCRIPT");
        exists.arg("EXISTS");
        for script in Script::ALL {
            exists.arg(script.sha());
        }
        let present: Vec<bool> = exists.query_async(conn).await?;
        self.inner.states.checked(node, &present);
        for (script, present) in Script::ALL.iter().zip(present) {
            if !present {
                self.load(conn, node, *script).await?;
            }
        }
        Ok(())
    }

    /// What every node has of every script.
    #[must_use]
    pub fn script_states(&self) -> &ScriptStates {
        &self.inner.states
    }

    /// The pool's connections and checkouts.
    #[must_use]
    pub fn pool_statistics(&self) -> PoolStatistics {
        self.inner.pool.statistics()
    }

    /// Failed calls so far, by kind.
    #[must_use]
    pub fn error_counts(&self) -> [(&'static str, u64); 4] {
        let errors = &self.inner.errors;
        [
            ("unavailable", errors.unavailable.load(Ordering::Relaxed)),
            ("deadline_exceeded", errors.deadline.load(Ordering::Relaxed)),
            (
                "out_of_memory",
                errors.out_of_memory.load(Ordering::Relaxed),
            ),
            ("internal", errors.internal.load(Ordering::Relaxed)),
        ]
    }
}

fn sha_mismatch(script: Script, got: &str) -> Error {
    Error::internal(
        script.name(),
        format!("SCRIPT LOAD answered SHA {got}, expected {}", script.sha()),
    )
}

/// Whether `error` means the connection itself is gone.
fn is_broken(error: &RedisError) -> bool {
    !error.is_timeout()
        && (error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error())
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
        // in a long script, or a cluster moving slots or failing over.
        Some(
            "BUSY" | "LOADING" | "MASTERDOWN" | "CLUSTERDOWN" | "TRYAGAIN" | "READONLY" | "MOVED"
            | "ASK",
        ) => return Error::Unavailable(error.to_string()),
        _ => {}
    }
    if error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.kind() == ErrorKind::AuthenticationFailed
    {
        return Error::Unavailable(error.to_string());
    }
    Error::internal("redis", error)
}

impl Error {
    /// Names the script in an internal error that came from its call.
    fn in_script(self, script: Script) -> Self {
        match self {
            Error::Internal { detail, .. } => Error::Internal {
                context: script.name(),
                detail,
            },
            other => other,
        }
    }
}
