//! Redis Cluster: a bb8 pool of redis-rs cluster connections, the map of
//! which primary serves which slots, and which failures mean a script did
//! not run.
//!
//! A cluster connection is itself multiplexed and self-healing: it routes
//! each command by slot and re-reads the slot map after MOVED or a failed
//! node. Requests share a clone of it, as they share multiplexed
//! connections standalone.
//!
//! Its own retries are turned off. redis-rs sends a command again after
//! its connection dropped, and a script whose reply was lost may have run:
//! sending a write again would apply it twice. The service resends only on
//! the replies that prove the script did not run (see [`resend`]).
//!
//! Checks addressed to one node (the health check's `SCRIPT EXISTS` and
//! `SCRIPT LOAD` on each primary) go over plain connections of their own
//! ([`NodeLinks`]): a cluster connection asked for a node it holds no
//! connection to (a primary that just died) reconnects to every seed node
//! and holds every call meanwhile.

mod link;
mod nodes;
mod resend;
mod slots;

use std::{
    net::SocketAddr,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bb8::{Pool, RunError};
use redis::{
    ErrorKind, RedisError, RedisFuture, RedisResult,
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    io::{AsyncDNSResolver, tcp::TcpSettings},
};

pub use nodes::NodeLinks;
use resend::RESEND_REASONS;
use slots::SlotRange;

use super::{RedisConfig, connection_info, pool::PoolStatistics};
use crate::{deadline::Deadline, error::Error};

/// How long making a connection to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The pool and the slot map.
pub struct ClusterPool {
    pool: Pool<ClusterClient>,
    wait: Duration,
    slots: RwLock<Vec<SlotRange>>,
    /// Calls sent again, by `RESEND_REASONS`.
    resends: [AtomicU64; RESEND_REASONS.len()],
    /// Connections to single nodes, for checks.
    nodes: NodeLinks,
    /// Connections the cluster connections made to nodes.
    connects: CountingResolver,
}

/// Resolves node addresses as redis-rs would, counting each resolution. A
/// cluster connection resolves a node's address every time it connects to
/// it, so this counts the node connections it opened (or tried to), the
/// reconnects after a failover included: bb8 sees only the one long-lived
/// cluster connection, never what happens inside it.
#[derive(Clone, Default)]
struct CountingResolver(Arc<AtomicU64>);

impl AsyncDNSResolver for CountingResolver {
    fn resolve<'a, 'b: 'a>(
        &'a self,
        host: &'b str,
        port: u16,
    ) -> RedisFuture<'a, Box<dyn Iterator<Item = SocketAddr> + Send + 'a>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, port)).await?;
            Ok(Box::new(addrs) as Box<dyn Iterator<Item = SocketAddr> + Send>)
        })
    }
}

impl ClusterPool {
    /// A pool of `size` connections to the cluster of `seeds`; connects in
    /// the background.
    pub fn new(config: &RedisConfig) -> RedisResult<Self> {
        let (seeds, size, wait) = (&config.urls, config.pool_size, config.pool_wait);
        let connects = CountingResolver::default();
        let mut builder = ClusterClient::builder(seeds.iter().map(String::as_str));
        if let Some(certificates) = &config.certificates {
            builder = builder.certs(certificates.clone());
        }
        let client = builder
            .tcp_settings(TcpSettings::default().set_nodelay(true))
            .connection_timeout(CONNECT_TIMEOUT)
            // Each attempt runs until the request's deadline
            // (Redis::eval_in_cluster), never shorter: a fixed timeout
            // would answer UNAVAILABLE ("not applied") for a slow script
            // that ran. This is only the backstop for redis-rs's own
            // commands, and no deadline is longer.
            .response_timeout(config.max_timeout)
            .overall_response_timeout(None)
            .retries(0)
            .async_dns_resolver(connects.clone())
            .build()?;
        let pool = Pool::builder()
            .max_size(size)
            .min_idle(size)
            .test_on_check_out(false)
            .retry_connection(false)
            .connection_timeout(wait)
            .build_unchecked(client);
        let seed = seeds
            .first()
            .ok_or_else(|| RedisError::from((ErrorKind::InvalidClientConfig, "no seed node")))?;
        Ok(Self {
            pool,
            wait,
            slots: RwLock::default(),
            resends: Default::default(),
            nodes: NodeLinks::new(connection_info(seed, config.certificates.as_ref())?),
            connects,
        })
    }

    /// Plain connections to single nodes, for checks.
    pub fn nodes(&self) -> &NodeLinks {
        &self.nodes
    }

    /// A cluster connection by `deadline`.
    pub async fn lease(&self, deadline: Deadline) -> Result<ClusterConnection, Error> {
        let left = deadline.remaining().ok_or(Error::DeadlineExceeded)?;
        match tokio::time::timeout(left, self.pool.get()).await {
            Ok(Ok(pooled)) => Ok(pooled.clone()),
            Ok(Err(RunError::User(error))) => Err(super::failure::classify(&error, deadline)),
            Ok(Err(RunError::TimedOut)) | Err(_) if left < self.wait => {
                Err(Error::DeadlineExceeded)
            }
            Ok(Err(RunError::TimedOut)) | Err(_) => Err(Error::Unavailable(
                "no Redis Cluster connection within the pool wait".into(),
            )),
        }
    }

    /// The pool's connections and checkouts; `created` counts every
    /// connection to a node, the ones a cluster connection makes on its
    /// own (reconnects after a failover) included.
    pub fn statistics(&self) -> PoolStatistics {
        let mut statistics = PoolStatistics::from(self.pool.state());
        statistics.created = self.connects.0.load(Ordering::Relaxed);
        statistics
    }
}
