//! Plain connections to single nodes of the cluster, for the checks.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, RedisResult,
    aio::MultiplexedConnection, io::tcp::TcpSettings,
};

use super::{CONNECT_TIMEOUT, link::address};

/// Plain connections to single nodes, made on first use with the seed's
/// credentials and TLS, and dropped when they fail or the node leaves.
pub struct NodeLinks {
    seed: ConnectionInfo,
    links: Mutex<HashMap<String, MultiplexedConnection>>,
}

impl NodeLinks {
    pub(super) fn new(seed: ConnectionInfo) -> Self {
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
        let link = self.open(node, CONNECT_TIMEOUT).await?;
        self.lock().insert(node.to_owned(), link.clone());
        Ok(link)
    }

    /// A new connection to `node`, kept by no one but the caller, whose
    /// commands may take `response_timeout` (a blocking read's).
    pub async fn open(
        &self,
        node: &str,
        response_timeout: std::time::Duration,
    ) -> RedisResult<MultiplexedConnection> {
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
            .set_response_timeout(Some(response_timeout));
        Client::open(self.seed.clone().set_addr(addr))?
            .get_multiplexed_async_connection_with_config(&config)
            .await
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
