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
//! the replies that prove the script did not run (see [`not_run`]).
//!
//! Checks addressed to one node (the health check's `SCRIPT EXISTS` and
//! `SCRIPT LOAD` on each primary) go over plain connections of their own
//! ([`NodeLinks`]): a cluster connection asked for a node it holds no
//! connection to (a primary that just died) reconnects to every seed node
//! and holds every call meanwhile.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bb8::{Pool, RunError};
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo,
    RedisError, RedisFuture, RedisResult, ServerErrorKind, Value,
    aio::MultiplexedConnection,
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr},
    io::{AsyncDNSResolver, tcp::TcpSettings},
};

use super::{Link, Target, pool::PoolStatistics};
use crate::{deadline::Deadline, error::Error};

/// How long making a connection to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The first pause before sending again a call the cluster did not run.
pub const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause: a failover takes a second or two (node timeout plus
/// election), a slot migration milliseconds.
pub const MAX_PAUSE: Duration = Duration::from_millis(100);
/// Redirections followed without a pause, before pausing as for any other
/// reason to send again.
pub const REDIRECTS_IN_A_ROW: u32 = 4;

/// Why a call was sent again.
const RESEND_REASONS: [&str; 7] = [
    "moved",
    "ask",
    "tryagain",
    "down",
    "readonly",
    "noscript",
    "unreachable",
];

/// A slot range and the primary serving it (`host:port`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRange {
    /// First slot.
    pub start: u16,
    /// Last slot, included.
    pub end: u16,
    /// The primary.
    pub node: String,
}

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
    pub fn new(
        seeds: &[String],
        size: u32,
        wait: Duration,
        max_timeout: Duration,
    ) -> RedisResult<Self> {
        let connects = CountingResolver::default();
        let client = ClusterClient::builder(seeds.iter().map(String::as_str))
            .tcp_settings(TcpSettings::default().set_nodelay(true))
            .connection_timeout(CONNECT_TIMEOUT)
            // Each attempt runs until the request's deadline
            // (Redis::eval_in_cluster), never shorter: a fixed timeout
            // would answer UNAVAILABLE ("not applied") for a slow script
            // that ran. This is only the backstop for redis-rs's own
            // commands, and no deadline is longer.
            .response_timeout(max_timeout)
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
            nodes: NodeLinks::new(seed.as_str().into_connection_info()?),
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

    /// The primary serving `slot`, as last seen.
    pub fn node_of(&self, slot: u16) -> Option<String> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        slots
            .iter()
            .find(|r| (r.start..=r.end).contains(&slot))
            .map(|r| r.node.clone())
    }

    /// Reads the slot map from the cluster; returns its primaries, sorted.
    pub async fn refresh(&self, conn: &mut ClusterConnection) -> RedisResult<Vec<String>> {
        // Asked of a primary, not of a random node: a random one may be a
        // node that died and is no longer part of the cluster.
        let reply = conn
            .send(Target::Slot(0), &redis::cmd("CLUSTER").arg("SLOTS").clone())
            .await?;
        let ranges = parse_slots(&reply).ok_or_else(|| {
            RedisError::from((redis::ErrorKind::Parse, "unexpected CLUSTER SLOTS reply"))
        })?;
        let mut primaries: Vec<String> = ranges.iter().map(|r| r.node.clone()).collect();
        primaries.sort();
        primaries.dedup();
        *self.slots.write().unwrap_or_else(PoisonError::into_inner) = ranges;
        Ok(primaries)
    }

    /// Counts a call sent again after `error` (one [`not_run`] accepts).
    pub fn count_resend(&self, error: &RedisError) {
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

    /// The pool's connections and checkouts; `created` counts every
    /// connection to a node, the ones a cluster connection makes on its
    /// own (reconnects after a failover) included.
    pub fn statistics(&self) -> PoolStatistics {
        let mut statistics = PoolStatistics::from(self.pool.state());
        statistics.created = self.connects.0.load(Ordering::Relaxed);
        statistics
    }
}

impl Link for ClusterConnection {
    async fn send(&mut self, to: Target<'_>, cmd: &redis::Cmd) -> RedisResult<Value> {
        let route = match to {
            Target::Slot(slot) => {
                SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master))
            }
            Target::Node(node) => by_address(node)?,
            Target::Asking(node) => {
                // The target imports the slot: it serves a command only
                // right after ASKING, on the same connection.
                let mut pipe = redis::pipe();
                pipe.cmd("ASKING").add_command(cmd.clone());
                let mut replies = self.route_pipeline(pipe, 1, 1, by_address(node)?).await?;
                let reply = replies.pop().ok_or_else(|| {
                    RedisError::from((ErrorKind::UnexpectedReturnType, "no reply after ASKING"))
                })?;
                return reply.extract_error();
            }
        };
        // Routed commands answer errors that need no action of the cluster
        // connection (NOSCRIPT, OOM) as values; a plain connection answers
        // them as errors, and so must this one.
        let reply = self
            .route_command(cmd.clone(), RoutingInfo::SingleNode(route))
            .await?;
        reply.extract_error()
    }
}

fn by_address(node: &str) -> RedisResult<SingleNodeRoutingInfo> {
    let (host, port) = address(node)?;
    Ok(SingleNodeRoutingInfo::ByAddress { host, port })
}

/// `host:port`, split.
fn address(node: &str) -> RedisResult<(String, u16)> {
    let bad = |what| RedisError::from((ErrorKind::InvalidClientConfig, what, node.to_owned()));
    let (host, port) = node
        .rsplit_once(':')
        .ok_or_else(|| bad("node address without a port"))?;
    let port = port
        .parse()
        .map_err(|_| bad("node address with a bad port"))?;
    Ok((host.to_owned(), port))
}

/// Plain connections to single nodes, made on first use with the seed's
/// credentials and TLS, and dropped when they fail or the node leaves.
pub struct NodeLinks {
    seed: ConnectionInfo,
    links: Mutex<HashMap<String, MultiplexedConnection>>,
}

impl NodeLinks {
    fn new(seed: ConnectionInfo) -> Self {
        Self {
            seed: seed.set_tcp_settings(TcpSettings::default().set_nodelay(true)),
            links: Mutex::default(),
        }
    }

    /// The connection to `node` (`host:port`), made if there is none.
    pub async fn get(&self, node: &str) -> RedisResult<MultiplexedConnection> {
        if let Some(link) = self.lock().get(node) {
            return Ok(link.clone());
        }
        let (host, port) = address(node)?;
        let addr = match self.seed.addr().clone() {
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host,
                port,
                insecure,
                tls_params,
            },
            _ => ConnectionAddr::Tcp(host, port),
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(CONNECT_TIMEOUT));
        let link = Client::open(self.seed.clone().set_addr(addr))?
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        self.lock().insert(node.to_owned(), link.clone());
        Ok(link)
    }

    /// Forgets the connection to `node`, which failed.
    pub fn failed(&self, node: &str) {
        self.lock().remove(node);
    }

    /// Keeps the connections to `nodes` only.
    pub fn retain(&self, nodes: &[String]) {
        self.lock().retain(|node, _| nodes.contains(node));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MultiplexedConnection>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
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
pub fn not_run(error: &RedisError) -> bool {
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
pub struct Redirect {
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

/// `CLUSTER SLOTS`: `[[start, end, [host, port, id, …], replicas…], …]`.
fn parse_slots(reply: &Value) -> Option<Vec<SlotRange>> {
    let Value::Array(entries) = reply else {
        return None;
    };
    entries
        .iter()
        .map(|entry| {
            let Value::Array(fields) = entry else {
                return None;
            };
            let int = |v: &Value| match v {
                Value::Int(n) => u16::try_from(*n).ok(),
                _ => None,
            };
            let Value::Array(primary) = fields.get(2)? else {
                return None;
            };
            let host = match primary.first()? {
                Value::BulkString(host) => String::from_utf8(host.clone()).ok()?,
                _ => return None,
            };
            let port = int(primary.get(1)?)?;
            Some(SlotRange {
                start: int(fields.first()?)?,
                end: int(fields.get(1)?)?,
                node: format!("{host}:{port}"),
            })
        })
        .collect()
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

    /// The reply shape of Redis 7's CLUSTER SLOTS.
    #[test]
    fn parses_cluster_slots() {
        let node = |port| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
                Value::Array(vec![]),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node(7000),
                node(7003),
            ]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node(7001)]),
        ]);
        assert_eq!(
            parse_slots(&reply).unwrap(),
            vec![
                SlotRange {
                    start: 0,
                    end: 5460,
                    node: "127.0.0.1:7000".into()
                },
                SlotRange {
                    start: 5461,
                    end: 16383,
                    node: "127.0.0.1:7001".into()
                },
            ]
        );
        assert_eq!(parse_slots(&Value::Nil), None);
    }
}
