//! The standalone connection pool: bb8 over bb8-redis multiplexed
//! connections.
//!
//! bb8 owns the connections' lifecycle and limits. Two ways of using them
//! are offered, and the benchmark decides the default:
//! - `shared`: a request checks a connection out only to clone its
//!   multiplexed handle and gives it back at once, so concurrent requests
//!   pipeline onto a few sockets;
//! - `exclusive`: a request holds its connection until Redis answers.
//!
//! bb8-redis never reports a connection as broken, so every connection
//! carries a flag that a request sets when its connection fails; bb8 then
//! drops it when it comes back, and a fresh one replaces it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU8, Ordering},
    },
    time::Duration,
};

use bb8::{ErrorSink, ManageConnection, Pool, PooledConnection, RunError};
use bb8_redis::RedisConnectionManager;
use redis::{ConnectionInfo, RedisError, aio::MultiplexedConnection, io::tcp::TcpSettings};

use crate::{deadline::Deadline, error::Error};

/// How requests use pooled connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PoolMode {
    /// Clone the checked-out multiplexed handle and return it at once.
    Shared,
    /// Hold the checked-out connection until Redis answers.
    Exclusive,
}

/// A pooled connection and its "failed" flag.
pub struct Tracked {
    conn: MultiplexedConnection,
    broken: Arc<AtomicBool>,
}

const LINK_UNKNOWN: u8 = 0;
const LINK_UP: u8 = 1;
const LINK_DOWN: u8 = 2;

/// bb8-redis's manager, plus the broken flag and the link state.
pub struct Manager {
    inner: RedisConnectionManager,
    /// Whether the last attempt to connect succeeded.
    link: Arc<AtomicU8>,
}

impl ManageConnection for Manager {
    type Connection = Tracked;
    type Error = RedisError;

    async fn connect(&self) -> Result<Tracked, RedisError> {
        let result = self.inner.connect().await;
        let state = if result.is_ok() { LINK_UP } else { LINK_DOWN };
        self.link.store(state, Ordering::Relaxed);
        Ok(Tracked {
            conn: result?,
            broken: Arc::default(),
        })
    }

    async fn is_valid(&self, conn: &mut Tracked) -> Result<(), RedisError> {
        self.inner.is_valid(&mut conn.conn).await
    }

    fn has_broken(&self, conn: &mut Tracked) -> bool {
        conn.broken.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy)]
struct LogErrors;

impl ErrorSink<RedisError> for LogErrors {
    fn sink(&self, error: RedisError) {
        tracing::warn!(%error, "cannot connect to redis");
    }

    fn boxed_clone(&self) -> Box<dyn ErrorSink<RedisError>> {
        Box::new(*self)
    }
}

/// The pool of one standalone Redis.
pub struct StandalonePool {
    pool: Pool<Manager>,
    mode: PoolMode,
    wait: Duration,
    link: Arc<AtomicU8>,
}

/// A connection for one request; `Exclusive` gives it back when dropped.
pub enum Lease<'a> {
    /// A clone of a shared multiplexed handle.
    Shared(MultiplexedConnection, Arc<AtomicBool>),
    /// A connection held until dropped.
    Exclusive(PooledConnection<'a, Manager>),
}

impl Lease<'_> {
    /// The connection to send on.
    pub fn conn(&mut self) -> &mut MultiplexedConnection {
        match self {
            Lease::Shared(conn, _) => conn,
            Lease::Exclusive(pooled) => &mut pooled.conn,
        }
    }

    /// Marks the connection as failed, so bb8 replaces it.
    pub fn mark_broken(&self) {
        match self {
            Lease::Shared(_, broken) => broken.store(true, Ordering::Relaxed),
            Lease::Exclusive(pooled) => pooled.broken.store(true, Ordering::Relaxed),
        }
    }
}

impl StandalonePool {
    /// A pool of `size` connections to `info`; connects in the background,
    /// so the service starts (NOT_SERVING) while Redis is still down.
    pub fn new(
        info: ConnectionInfo,
        size: u32,
        wait: Duration,
        mode: PoolMode,
    ) -> Result<Self, RedisError> {
        // Without TCP_NODELAY, delayed ACKs stall pipelined replies by 40 ms.
        let info = info.set_tcp_settings(TcpSettings::default().set_nodelay(true));
        let link = Arc::new(AtomicU8::new(LINK_UNKNOWN));
        let manager = Manager {
            inner: RedisConnectionManager::new(info)?,
            link: Arc::clone(&link),
        };
        let pool = Pool::builder()
            .max_size(size)
            .min_idle(size)
            // A PING per checkout would double the round trips; failed
            // connections are flagged by the requests that see them fail.
            .test_on_check_out(false)
            .retry_connection(false)
            .connection_timeout(wait)
            .error_sink(Box::new(LogErrors))
            .build_unchecked(manager);
        Ok(Self {
            pool,
            mode,
            wait,
            link,
        })
    }

    /// A connection for one request, by `deadline`.
    ///
    /// While Redis is known to be down and no connection is left, this
    /// fails at once instead of waiting out the pool wait: the caller gets
    /// UNAVAILABLE with a retry hint in microseconds, not a stalled call.
    pub async fn lease(&self, deadline: Deadline) -> Result<Lease<'_>, Error> {
        if self.link.load(Ordering::Relaxed) == LINK_DOWN && self.pool.state().connections == 0 {
            return Err(Error::Unavailable(
                "redis is down (last connect failed)".into(),
            ));
        }
        self.patient_lease(deadline).await
    }

    /// A connection by `deadline`, waiting for one to be made if need be.
    /// The health check uses this: its `get` makes bb8 reconnect.
    pub async fn patient_lease(&self, deadline: Deadline) -> Result<Lease<'_>, Error> {
        let left = deadline.remaining().ok_or(Error::DeadlineExceeded)?;
        let by_deadline = left < self.wait;
        // A connection flagged as failed goes back to bb8, which drops it;
        // every pooled connection may be flagged, hence the bound.
        for _ in 0..=self.pool.state().connections {
            let pooled = match tokio::time::timeout(left, self.pool.get()).await {
                Ok(Ok(pooled)) => pooled,
                Ok(Err(RunError::User(error))) => {
                    return Err(super::failure::classify(&error, deadline));
                }
                Ok(Err(RunError::TimedOut)) | Err(_) if by_deadline => {
                    return Err(Error::DeadlineExceeded);
                }
                Ok(Err(RunError::TimedOut)) | Err(_) => {
                    return Err(Error::Unavailable(format!(
                        "no redis connection within the pool wait of {:?}",
                        self.wait
                    )));
                }
            };
            if pooled.broken.load(Ordering::Relaxed) {
                continue;
            }
            return Ok(match self.mode {
                PoolMode::Shared => Lease::Shared(pooled.conn.clone(), Arc::clone(&pooled.broken)),
                PoolMode::Exclusive => Lease::Exclusive(pooled),
            });
        }
        Err(Error::Unavailable("every pooled connection failed".into()))
    }

    /// The pool's connections and what its checkouts went through.
    #[must_use]
    pub fn statistics(&self) -> PoolStatistics {
        PoolStatistics::from(self.pool.state())
    }
}

/// A snapshot of the pool, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatistics {
    /// Connections open.
    pub open: u32,
    /// Of those, checked in.
    pub idle: u32,
    /// Checkouts that waited for a connection.
    pub waited: u64,
    /// Checkouts that gave up waiting.
    pub timed_out: u64,
    /// Time checkouts spent waiting.
    pub wait_time: Duration,
    /// Connections made.
    pub created: u64,
    /// Connections dropped because they failed.
    pub broken: u64,
}

impl From<bb8::State> for PoolStatistics {
    fn from(state: bb8::State) -> Self {
        let counts = state.statistics;
        Self {
            open: state.connections,
            idle: state.idle_connections,
            waited: counts.get_waited,
            timed_out: counts.get_timed_out,
            wait_time: counts.get_wait_time,
            created: counts.connections_created,
            broken: counts.connections_closed_broken,
        }
    }
}
