//! The gRPC edge: validate requests into typed values, call the operation,
//! convert its outcome. Nothing here knows Redis.

mod admin;
pub mod health;
pub mod layer;
mod records;
mod values;

use std::time::Duration;

use tonic::Request;

pub use admin::Admin;
pub use records::Records;
pub use values::Values;

use crate::deadline::Deadline;

/// The deadline [`layer::RpcLayer`] put on the request; a request that did
/// not pass through it (a handler called directly) gets five seconds.
fn deadline_of<T>(request: &Request<T>) -> Deadline {
    request
        .extensions()
        .get::<Deadline>()
        .copied()
        .unwrap_or_else(|| Deadline::after(Duration::from_secs(5)))
}
