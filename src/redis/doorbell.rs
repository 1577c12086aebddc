//! A doorbell: a connection of its own that blocks in `XREAD` until a
//! stream has an entry after a given id.
//!
//! The watches read what a stream holds through scripts on the shared
//! connections, like every other call; only the waiting is here. A blocking
//! command on a multiplexed connection holds every command pipelined
//! behind it, so a doorbell's connection carries nothing else, and each
//! shared reader of a stream rings its own (src/watch). What `XREAD`
//! returns is thrown away: it only says that there is something to read.

use std::time::Duration;

use redis::{Value, aio::MultiplexedConnection};

use super::{Backend, Redis, slot};
use crate::error::Error;

/// Longer than any block: a reply later than this means a dead connection.
const SLACK: Duration = Duration::from_secs(2);

/// A connection for waiting on one stream.
pub struct Doorbell {
    stream: String,
    conn: Option<MultiplexedConnection>,
}

impl Redis {
    /// A doorbell for `stream`; it connects when first rung.
    #[must_use]
    pub fn doorbell(&self, stream: String) -> Doorbell {
        Doorbell { stream, conn: None }
    }
}

impl Doorbell {
    /// Waits until the stream holds an entry after `after` (`ms-seq`), for
    /// at most `block`: `Ok(true)` when it does, `Ok(false)` when the time
    /// passed. A failure drops the connection (the next wait makes a new
    /// one, to the node serving the stream's slot then) and is for the
    /// caller to back off from.
    pub async fn wait(
        &mut self,
        redis: &Redis,
        after: &str,
        block: Duration,
    ) -> Result<bool, Error> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self
                .conn
                .insert(connect(redis, &self.stream, block + SLACK).await?),
        };
        let mut xread = redis::cmd("XREAD");
        xread
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX))
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(after);
        match xread.query_async::<Value>(conn).await {
            Ok(Value::Nil) => Ok(false),
            Ok(_) => Ok(true),
            Err(error) => {
                self.conn = None;
                // A MOVED (the slot's primary changed) or a dead node: the
                // health check rereads the slot map.
                redis.inner.trouble.notify_one();
                Err(Error::Unavailable(format!("doorbell: {error}")))
            }
        }
    }
}

/// A new connection to the node serving `stream`.
async fn connect(
    redis: &Redis,
    stream: &str,
    response_timeout: Duration,
) -> Result<MultiplexedConnection, Error> {
    let unavailable = |error: redis::RedisError| Error::Unavailable(format!("doorbell: {error}"));
    match &redis.inner.backend {
        Backend::Standalone { info, .. } => {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(response_timeout));
            redis::Client::open(info.as_ref().clone())
                .map_err(unavailable)?
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map_err(unavailable)
        }
        Backend::Cluster(cluster) => {
            let node = cluster.node_of(slot::slot(stream)).ok_or_else(|| {
                Error::Unavailable("doorbell: the slot map is not known yet".into())
            })?;
            cluster
                .nodes()
                .open(&node, response_timeout)
                .await
                .map_err(unavailable)
        }
    }
}
