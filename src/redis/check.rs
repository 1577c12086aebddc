//! Health checks: every node (every primary of a cluster) answers and has
//! every script, and what is missing is loaded before a call needs it.

use super::{
    Backend, Redis, Script,
    cluster::ClusterPool,
    failure::{Failure, classify, leaves_link_unusable},
    link::{Link, Target},
};
use crate::{deadline::Deadline, error::Error};

impl Redis {
    /// Checks that every node (every primary of a cluster) answers and has
    /// every script, loading what is missing. Drives health: `Ok` means
    /// ready to serve.
    pub async fn check_scripts(&self, deadline: Deadline) -> Result<(), Error> {
        match &self.inner.backend {
            Backend::Standalone { pool, node, .. } => {
                let mut lease = pool.patient_lease(deadline).await?;
                let left = deadline.remaining().ok_or(Error::DeadlineExceeded)?;
                let conn = lease.conn();
                conn.set_response_timeout(left);
                let result = self.check_node(conn, node).await;
                if leaves_link_unusable(&result) {
                    lease.mark_broken();
                }
                result.map_err(|failure| failure.into_error(deadline))
            }
            Backend::Cluster(cluster) => {
                let check = self.check_cluster(cluster, deadline);
                tokio::time::timeout_at(deadline.instant(), check)
                    .await
                    .unwrap_or(Err(Error::DeadlineExceeded))
            }
        }
    }

    /// Reads the cluster's primaries, forgets nodes that left, and checks
    /// each; the first failure, naming its node, is the answer.
    async fn check_cluster(&self, cluster: &ClusterPool, deadline: Deadline) -> Result<(), Error> {
        let mut conn = cluster.lease(deadline).await?;
        let primaries = cluster
            .refresh(&mut conn)
            .await
            .map_err(|error| classify(&error, deadline))?;
        self.inner.states.retain(&primaries);
        let nodes = cluster.nodes();
        nodes.retain(&primaries);
        let mut first = Ok(());
        for node in &primaries {
            let checked = match nodes.get(node).await {
                Ok(mut link) => self.check_node(&mut link, node).await,
                Err(error) => Err(Failure::Redis(error)),
            };
            if leaves_link_unusable(&checked) {
                nodes.failed(node);
            }
            if let Err(failure) = checked {
                let error = match failure.into_error(deadline) {
                    Error::Unavailable(detail) => Error::Unavailable(format!("{node}: {detail}")),
                    other => other,
                };
                first = first.and(Err(error));
            }
        }
        first
    }

    async fn check_node<L: Link>(&self, conn: &mut L, node: &str) -> Result<(), Failure> {
        let mut exists = redis::cmd("SCRIPT");
        exists.arg("EXISTS");
        for script in Script::ALL {
            exists.arg(script.sha());
        }
        let present: Vec<bool> =
            redis::from_redis_value(conn.send(Target::Node(node), &exists).await?)?;
        self.inner.states.checked(node, &present);
        for (script, present) in Script::ALL.iter().zip(present) {
            if !present {
                self.load(conn, Target::Node(node), Some(node), *script)
                    .await?;
            }
        }
        Ok(())
    }
}
