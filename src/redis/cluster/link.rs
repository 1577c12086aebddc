//! Sending over a cluster connection to a [`Target`]: by slot, to a node
//! by address, or after `ASKING`.

use redis::{
    ErrorKind, RedisError, RedisResult, Value,
    cluster_async::ClusterConnection,
    cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr},
};

use crate::redis::link::{Link, Target};

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
pub(super) fn address(node: &str) -> RedisResult<(String, u16)> {
    let bad = |what| RedisError::from((ErrorKind::InvalidClientConfig, what, node.to_owned()));
    let (host, port) = node
        .rsplit_once(':')
        .ok_or_else(|| bad("node address without a port"))?;
    let port = port
        .parse()
        .map_err(|_| bad("node address with a bad port"))?;
    Ok((host.to_owned(), port))
}
