//! What the service knows of its scripts on each Redis node, for
//! AdminService.

use super::Context;
use crate::redis::Script;

pub use crate::redis::NodeScript;

/// One script, and what each node has of it.
#[derive(Clone, Debug)]
pub struct ScriptReport {
    /// The script's name (`values_cas`).
    pub name: &'static str,
    /// The SHA1 of its source as sent to Redis.
    pub sha1: &'static str,
    /// Per node (`host:port`), its state there.
    pub nodes: Vec<(String, NodeScript)>,
}

impl Context {
    /// Every script, by name, and its state on every known node.
    #[must_use]
    pub fn scripts(&self) -> Vec<ScriptReport> {
        let nodes = self.redis.script_states().snapshot();
        let mut scripts: Vec<Script> = Script::ALL.to_vec();
        scripts.sort_by_key(|s| s.name());
        scripts
            .into_iter()
            .map(|script| ScriptReport {
                name: script.name(),
                sha1: script.sha(),
                nodes: nodes
                    .iter()
                    .map(|(node, states)| (node.clone(), states[script as usize].clone()))
                    .collect(),
            })
            .collect()
    }
}
