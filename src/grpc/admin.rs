//! `rmw.v1.AdminService`.

use tonic::{Request, Response, Status};

use super::reply;
use crate::{
    ops::Context,
    proto::v1::{self as pb, admin_service_server::AdminService},
};

/// The AdminService handlers.
pub struct Admin {
    cx: Context,
}

impl Admin {
    /// Handlers reporting on the Redis of `cx`.
    #[must_use]
    pub fn new(cx: Context) -> Self {
        Self { cx }
    }
}

#[tonic::async_trait]
impl AdminService for Admin {
    async fn get_script_status(
        &self,
        _request: Request<pb::GetScriptStatusRequest>,
    ) -> Result<Response<pb::GetScriptStatusResponse>, Status> {
        let scripts = self
            .cx
            .scripts()
            .into_iter()
            .map(|script| pb::ScriptStatus {
                name: script.name.to_owned(),
                sha1: script.sha1.to_owned(),
                nodes: script
                    .nodes
                    .into_iter()
                    .map(|(node, state)| pb::ScriptNodeStatus {
                        node,
                        loaded: state.loaded,
                        last_loaded: state.last_loaded.map(Into::into),
                        reloads: state.reloads,
                        last_checked: state.last_checked.map(Into::into),
                    })
                    .collect(),
            })
            .collect();
        Ok(reply(pb::GetScriptStatusResponse { scripts }))
    }
}
