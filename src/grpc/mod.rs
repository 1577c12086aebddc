//! The gRPC edge: validate requests into typed values, call the operation,
//! convert its outcome. Nothing here knows Redis.

mod admin;
mod counters;
pub mod health;
mod inventory;
pub mod layer;
mod records;
mod values;

use std::time::{Duration, SystemTime};

use tonic::Request;

pub use admin::Admin;
pub use counters::Counters;
pub use inventory::Inventory;
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

/// A time as a protobuf timestamp.
fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    time.into()
}
