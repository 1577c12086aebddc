//! A local Redis Cluster: 3 primaries and 3 replicas on loopback, each a
//! private redis-server, joined by `redis-cli --cluster create`.

use std::{collections::BTreeMap, process::Command, time::Duration};

use redis::aio::MultiplexedConnection;

use super::{free_port, pki::Pki};
use rmw::dev_redis::RedisProcess;
use tokio::{
    sync::{Semaphore, SemaphorePermit},
    time::{Instant, sleep},
};

/// How long the cluster may take to form, or to fail over.
const SETTLE_WITHIN: Duration = Duration::from_secs(30);

/// One cluster at a time: two, each under load, on 2 busy cores could miss
/// each other's node timeouts and fail over unasked.
static ONE_AT_A_TIME: Semaphore = Semaphore::const_new(1);

/// A Redis Cluster of private redis-server processes on loopback.
pub struct Cluster {
    /// Its nodes, primaries first.
    pub nodes: Vec<RedisProcess>,
    /// Each node's TLS port, for a cluster started with TLS (the plaintext
    /// port stays open for the harness).
    pub tls_ports: Vec<u16>,
    node_timeout: Duration,
    _turn: SemaphorePermit<'static>,
}

/// One cluster-enabled redis-server, and its TLS port with `tls`.
/// With `tls`, `(pki, client_auth)`: TLS ports with `pki`'s server
/// certificate, asking clients for a certificate when `client_auth`.
async fn start_node(
    node_timeout: Duration,
    tls: Option<(&Pki, bool)>,
) -> (RedisProcess, Option<u16>) {
    let node_timeout = node_timeout.as_millis().to_string();
    // The bus port defaults to the port + 10000, which may be taken or
    // beyond 65535 for a random port: a free one is chosen.
    let bus = free_port().to_string();
    let tls_port = tls.map(|_| free_port().to_string());
    let tls_args = tls
        .zip(tls_port.as_ref())
        .map(|((pki, client_auth), tls_port)| {
            [
                "--tls-port".to_owned(),
                tls_port.clone(),
                "--tls-cert-file".to_owned(),
                Pki::arg(&pki.server_cert),
                "--tls-key-file".to_owned(),
                Pki::arg(&pki.server_key),
                "--tls-ca-cert-file".to_owned(),
                Pki::arg(&pki.ca),
                "--tls-auth-clients".to_owned(),
                if client_auth { "yes" } else { "no" }.to_owned(),
                // The bus always asks the connecting node for a client
                // certificate, which the server one (for servers only) cannot be.
                "--tls-client-cert-file".to_owned(),
                Pki::arg(&pki.client_cert),
                "--tls-client-key-file".to_owned(),
                Pki::arg(&pki.client_key),
                // Topology (CLUSTER SLOTS, MOVED) names a TLS client the TLS
                // ports; the bus and replicas speak TLS too.
                "--tls-cluster".to_owned(),
                "yes".to_owned(),
                "--tls-replication".to_owned(),
                "yes".to_owned(),
            ]
        });
    let mut args = vec![
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-port",
        &bus,
        "--cluster-node-timeout",
        &node_timeout,
        // Replicas sync at once, not after the default 5 s wait for more
        // replicas to share the transfer: a replica that never synced cannot
        // be promoted.
        "--repl-diskless-sync-delay",
        "0",
        // In the node's directory (`--dir` comes first).
        "--logfile",
        "redis.log",
    ];
    args.extend(tls_args.iter().flatten().map(String::as_str));
    let node = RedisProcess::start(&args)
        .await
        .expect("redis-server (apt-get install -y redis-server)");
    (node, tls_port.map(|port| port.parse().unwrap()))
}

/// One node as `CLUSTER NODES` describes it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// The node id.
    pub id: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Whether it is a primary.
    pub primary: bool,
    /// Whether the cluster marks it failed.
    pub failed: bool,
    /// Slot ranges served, for a primary.
    pub slots: Vec<(u16, u16)>,
}

impl Cluster {
    /// Six nodes, joined as 3 primaries with a replica each; returns once
    /// every node sees all 16384 slots served.
    pub async fn start() -> Self {
        Self::start_with_node_timeout(Duration::from_secs(5)).await
    }

    /// The cluster, where a node unreachable for `node_timeout` is failed
    /// over.
    pub async fn start_with_node_timeout(node_timeout: Duration) -> Self {
        Self::start_with(node_timeout, None).await
    }

    /// The cluster speaking TLS with `pki`'s server certificate on its
    /// client ports (also plaintext ones, for the harness), its bus and
    /// replication, as the production overlay deploys it, and asking every
    /// client of its TLS ports for a certificate signed by `pki`'s CA.
    pub async fn start_mtls(pki: &Pki) -> Self {
        Self::start_with(Duration::from_secs(5), Some((pki, true))).await
    }

    async fn start_with(node_timeout: Duration, tls: Option<(&Pki, bool)>) -> Self {
        let turn = ONE_AT_A_TIME.acquire().await.unwrap();
        let mut nodes = Vec::new();
        let mut tls_ports = Vec::new();
        for _ in 0..6 {
            let (node, tls_port) = start_node(node_timeout, tls).await;
            nodes.push(node);
            tls_ports.extend(tls_port);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        // Bounded: redis-cli waits for the nodes to join for as long as it
        // takes, forever if they cannot.
        let output = Command::new("timeout")
            .args([&SETTLE_WITHIN.as_secs().to_string(), "redis-cli"])
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli (apt-get install -y redis-tools)");
        assert!(
            output.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Self {
            nodes,
            tls_ports,
            node_timeout,
            _turn: turn,
        };
        cluster.wait_settled().await;
        cluster
    }

    /// `primaries` nodes (at least 1), each a primary without replicas,
    /// the slots spread evenly: the benchmark's scale-out clusters.
    /// (redis-cli creates clusters of 3 or more; one node is given every
    /// slot by hand.)
    pub async fn start_primaries(primaries: usize) -> Self {
        assert!(primaries >= 1, "a cluster needs a primary");
        let turn = ONE_AT_A_TIME.acquire().await.unwrap();
        let node_timeout = Duration::from_secs(5);
        let mut nodes = Vec::new();
        for _ in 0..primaries {
            nodes.push(start_node(node_timeout, None).await.0);
        }
        let output = if primaries == 1 {
            // A node that never met another does not know its address and
            // reports "" in CLUSTER SLOTS, which clients cannot dial.
            let cli = |args: &[&str]| {
                Command::new("redis-cli")
                    .args(["-p", &nodes[0].port().to_string()])
                    .args(args)
                    .output()
            };
            cli(&["CONFIG", "SET", "cluster-announce-ip", "127.0.0.1"])
                .and_then(|_| cli(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]))
        } else {
            let addresses: Vec<String> = nodes
                .iter()
                .map(|n| format!("127.0.0.1:{}", n.port()))
                .collect();
            Command::new("timeout")
                .args([&SETTLE_WITHIN.as_secs().to_string(), "redis-cli"])
                .args(["--cluster", "create"])
                .args(&addresses)
                .args(["--cluster-replicas", "0", "--cluster-yes"])
                .output()
        }
        .expect("redis-cli (apt-get install -y redis-tools)");
        assert!(
            output.status.success(),
            "cluster of {primaries}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Self {
            nodes,
            tls_ports: Vec::new(),
            node_timeout,
            _turn: turn,
        };
        cluster.wait_settled().await;
        cluster
    }

    /// Starts a seventh node and joins it as a primary without slots, as
    /// when a cluster is grown; returns its port once every node knows it.
    /// (Plaintext clusters only.)
    pub async fn add_empty_primary(&mut self) -> u16 {
        assert!(self.tls_ports.is_empty(), "plaintext clusters only");
        let (node, _) = start_node(self.node_timeout, None).await;
        let port = node.port();
        let output = Command::new("timeout")
            .args([&SETTLE_WITHIN.as_secs().to_string(), "redis-cli"])
            .args(["--cluster", "add-node"])
            .arg(format!("127.0.0.1:{port}"))
            .arg(format!("127.0.0.1:{}", self.nodes[0].port()))
            .output()
            .expect("redis-cli");
        assert!(
            output.status.success(),
            "redis-cli --cluster add-node: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        self.nodes.push(node);
        let started = Instant::now();
        'poll: loop {
            assert!(
                started.elapsed() < SETTLE_WITHIN,
                "node {port} never joined"
            );
            for node in &self.nodes {
                if self.topology(node.port()).await.len() < self.nodes.len() {
                    sleep(Duration::from_millis(20)).await;
                    continue 'poll;
                }
            }
            break;
        }
        self.wait_settled().await;
        port
    }

    /// Comma-separated seed URLs, as `--redis-url` takes them.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .take(2)
            .map(RedisProcess::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A cluster connection of the test's own, seeded by every node (a
    /// killed one is skipped).
    pub async fn client(&self) -> redis::cluster_async::ClusterConnection {
        let urls: Vec<String> = self.nodes.iter().map(RedisProcess::url).collect();
        redis::cluster::ClusterClient::new(urls)
            .unwrap()
            .get_async_connection()
            .await
            .unwrap()
    }

    /// A connection to the live node on `port`.
    pub async fn conn(&self, port: u16) -> MultiplexedConnection {
        super::connect(&format!("redis://127.0.0.1:{port}")).await
    }

    /// The cluster's nodes, as a live node sees them.
    pub async fn topology(&self, port: u16) -> Vec<NodeInfo> {
        let text: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut self.conn(port).await)
            .await
            .unwrap();
        text.lines().map(parse_node).collect()
    }

    /// The port of the primary serving `slot`, as the node on `port` sees it.
    pub async fn primary_of(&self, port: u16, slot: u16) -> u16 {
        self.topology(port)
            .await
            .into_iter()
            .find(|n| n.primary && n.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot)))
            .map(|n| n.port)
            .expect("every slot is served")
    }

    /// The primaries' ports, by node id.
    pub async fn primaries(&self, port: u16) -> BTreeMap<String, u16> {
        self.topology(port)
            .await
            .into_iter()
            .filter(|n| n.primary && !n.failed && !n.slots.is_empty())
            .map(|n| (n.id, n.port))
            .collect()
    }

    /// The log of the node on `port`.
    pub fn log(&self, port: u16) -> String {
        let node = self.nodes.iter().find(|n| n.port() == port).unwrap();
        std::fs::read_to_string(node.dir().join("redis.log")).unwrap_or_default()
    }

    /// Kills the node on `port` with SIGKILL.
    pub fn kill(&mut self, port: u16) {
        let node = self.nodes.iter_mut().find(|n| n.port() == port).unwrap();
        node.kill();
    }

    /// Waits until every live node reports `cluster_state:ok` with every
    /// slot served by a live primary, and every live replica is in sync
    /// with its primary.
    pub async fn wait_settled(&self) -> Duration {
        let started = Instant::now();
        'poll: loop {
            assert!(
                started.elapsed() < SETTLE_WITHIN,
                "the cluster did not settle within {SETTLE_WITHIN:?}"
            );
            for node in &self.nodes {
                let Ok(client) = redis::Client::open(node.url()) else {
                    continue 'poll;
                };
                // A killed node refuses: it is not asked.
                let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                    continue;
                };
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                let replication: String = redis::cmd("INFO")
                    .arg("replication")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                let synced = replication.contains("role:master")
                    || replication.contains("master_link_status:up");
                if !(synced
                    && info.contains("cluster_state:ok")
                    && info.contains("cluster_slots_ok:16384"))
                {
                    sleep(Duration::from_millis(50)).await;
                    continue 'poll;
                }
            }
            return started.elapsed();
        }
    }
}

/// `<id> <ip:port@bus> <flags> <primary> <ping> <pong> <epoch> <link> <slot>…`
fn parse_node(line: &str) -> NodeInfo {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let port = fields[1]
        .split('@')
        .next()
        .and_then(|a| a.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap();
    let flags = fields[2];
    let slots = fields[8..]
        .iter()
        // `[slot->-node]` entries are migrations in progress.
        .filter(|s| !s.starts_with('['))
        .map(|s| match s.split_once('-') {
            Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
            None => (s.parse().unwrap(), s.parse().unwrap()),
        })
        .collect();
    NodeInfo {
        id: fields[0].to_owned(),
        port,
        primary: flags.contains("master"),
        failed: flags.contains("fail") && !flags.contains("fail?"),
        slots,
    }
}
