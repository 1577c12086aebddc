//! The eval path: `EVALSHA`, and on `NOSCRIPT` the script loaded (its SHA
//! checked) and the call sent again. Standalone calls go straight through
//! here; cluster calls through the loop that sends them again (`cluster`).

use redis::{ErrorKind, ServerErrorKind, Value};

use super::{
    Backend, Call, Redis, Reply, Script,
    failure::{Failure, is_broken},
    link::{Link, Target},
};
use crate::{deadline::Deadline, error::Error};

impl Redis {
    #[tracing::instrument(
        name = "redis.script",
        level = "debug",
        skip_all,
        fields(db.system = "redis", rmw.script = call.script().name())
    )]
    pub(super) async fn eval_once(&self, call: &Call, deadline: Deadline) -> Result<Reply, Error> {
        let script = call.script();
        let value = match &self.inner.backend {
            Backend::Standalone { pool, node, .. } => {
                let mut lease = pool.lease(deadline).await?;
                let left = deadline.remaining().ok_or(Error::DeadlineExceeded)?;
                let conn = lease.conn();
                conn.set_response_timeout(left);
                let result = self
                    .eval_on(conn, Target::Node(node), Some(node), call)
                    .await;
                if let Err(Failure::Redis(error)) = &result
                    && is_broken(error)
                {
                    lease.mark_broken();
                }
                result.map_err(|failure| failure.into_error(deadline))
            }
            Backend::Cluster(cluster) => self.eval_in_cluster(cluster, call, deadline).await,
        };
        Reply::decode(script, value.map_err(|error| error.in_script(script))?)
    }

    pub(super) async fn eval_on<L: Link>(
        &self,
        conn: &mut L,
        to: Target<'_>,
        node: Option<&str>,
        call: &Call,
    ) -> Result<Value, Failure> {
        let command = call.command();
        let mut reloads = 0;
        loop {
            match conn.send(to, &command).await {
                Err(error)
                    if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
                        && reloads < NOSCRIPT_RELOADS =>
                {
                    // Nothing ran: load the script and send the call again.
                    reloads += 1;
                    let script = call.script();
                    if let Some(node) = node {
                        self.inner.states.missing(node, script);
                    }
                    self.load(conn, to.for_load(), node, script).await?;
                }
                other => return Ok(other?),
            }
        }
    }

    /// `SCRIPT LOAD`s `script` at `to`, checking the SHA Redis answers.
    pub(super) async fn load<L: Link>(
        &self,
        conn: &mut L,
        to: Target<'_>,
        node: Option<&str>,
        script: Script,
    ) -> Result<(), Failure> {
        let mut cmd = redis::cmd("SCRIPT");
        cmd.arg("LOAD").arg(script.source());
        let got: String = redis::from_redis_value(conn.send(to, &cmd).await?)?;
        if got != script.sha() {
            return Err(Failure::Sha { script, got });
        }
        if let Some(node) = node
            && self.inner.states.loaded(node, script)
        {
            tracing::info!(script = script.name(), node, "script reloaded");
        }
        Ok(())
    }
}

/// Loads of a script one call may make. One is enough unless the script
/// cache is flushed again between the load and the call.
const NOSCRIPT_RELOADS: u32 = 3;
