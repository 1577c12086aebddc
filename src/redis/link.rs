//! Where a command goes, and the connections that take it there.
//!
//! The eval path and the health checks are generic over [`Link`], so that
//! standalone and Redis Cluster share them: a standalone connection sends
//! everything to its one node, a cluster connection routes by [`Target`].

use redis::{RedisResult, Value, aio::MultiplexedConnection};

/// Where a command is sent.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target<'a> {
    /// The primary serving this slot (standalone: the one node).
    Slot(u16),
    /// The node at this `host:port` (standalone: the one node).
    Node(&'a str),
    /// The node at this `host:port`, after `ASKING`: a slot being migrated
    /// there (cluster only).
    Asking(&'a str),
}

impl<'a> Target<'a> {
    /// Where a script must be loaded for a call sent to `self` to find it.
    pub(super) fn for_load(self) -> Target<'a> {
        match self {
            Target::Asking(node) => Target::Node(node),
            other => other,
        }
    }
}

/// A connection scripts are run, loaded and checked over.
pub(crate) trait Link: Send {
    /// Sends `cmd` to `to`.
    fn send(
        &mut self,
        to: Target<'_>,
        cmd: &redis::Cmd,
    ) -> impl Future<Output = RedisResult<Value>> + Send;
}

impl Link for MultiplexedConnection {
    /// One node: every target is this node.
    async fn send(&mut self, _to: Target<'_>, cmd: &redis::Cmd) -> RedisResult<Value> {
        cmd.query_async(self).await
    }
}
