//! `rmw.v1.AdminService`.

use tonic::{Request, Response, Status};

use super::{reply, timestamp};
use crate::{
    health::Health,
    ops::Context,
    proto::v1::{self as pb, admin_service_server::AdminService},
};

/// The AdminService handlers.
pub struct Admin {
    cx: Context,
    health: Health,
}

impl Admin {
    /// Handlers reporting on the Redis of `cx` and on `health`.
    #[must_use]
    pub fn new(cx: Context, health: Health) -> Self {
        Self { cx, health }
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

    async fn get_health(
        &self,
        _request: Request<pb::GetHealthRequest>,
    ) -> Result<Response<pb::GetHealthResponse>, Status> {
        let components: Vec<pb::ComponentHealth> = self
            .health
            .components()
            .into_iter()
            .map(|(component, state)| pb::ComponentHealth {
                name: component.name().to_owned(),
                serving: state.serving,
                detail: state.detail,
                since: Some(timestamp(state.since)),
            })
            .collect();
        Ok(reply(pb::GetHealthResponse {
            serving: components.iter().all(|c| c.serving),
            components,
        }))
    }
}
