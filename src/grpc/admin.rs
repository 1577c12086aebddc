//! `rmw.v1.AdminService`.

use tonic::{Request, Response, Status};

use super::reply;

use crate::{
    proto::v1::{self as pb, admin_service_server::AdminService},
    redis::{Redis, Script},
};

/// The AdminService handlers.
pub struct Admin {
    redis: Redis,
}

impl Admin {
    /// Handlers reporting on `redis`.
    #[must_use]
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }
}

#[tonic::async_trait]
impl AdminService for Admin {
    async fn get_script_status(
        &self,
        _request: Request<pb::GetScriptStatusRequest>,
    ) -> Result<Response<pb::GetScriptStatusResponse>, Status> {
        let nodes = self.redis.script_states().snapshot();
        let mut scripts: Vec<Script> = Script::ALL.to_vec();
        scripts.sort_by_key(|s| s.name());
        let scripts = scripts
            .into_iter()
            .map(|script| pb::ScriptStatus {
                name: script.name().to_owned(),
                sha1: script.sha().to_owned(),
                nodes: nodes
                    .iter()
                    .map(|(node, states)| {
                        let state = &states[script as usize];
                        pb::ScriptNodeStatus {
                            node: node.clone(),
                            loaded: state.loaded,
                            last_loaded: state.last_loaded.map(Into::into),
                            reloads: state.reloads,
                            last_checked: state.last_checked.map(Into::into),
                        }
                    })
                    .collect(),
            })
            .collect();
        Ok(reply(pb::GetScriptStatusResponse { scripts }))
    }
}
