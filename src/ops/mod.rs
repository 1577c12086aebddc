//! The operations: typed requests, the script each one calls, and its
//! reply read back as a typed outcome. Free of gRPC.

pub mod keyspace;
mod records;
pub mod types;
mod values;

use std::time::Duration;

pub use keyspace::Keyspace;
pub use records::{RecordOutcome, RecordWrite};
pub use values::{
    CasOutcome, CompareAndSwap, Condition, ConditionalUpdate, Operator, UpdateOutcome, Write,
};

use crate::redis::Redis;

/// What every operation needs: Redis, the key layout and the idempotency
/// settings. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    /// The Redis handle.
    pub redis: Redis,
    /// Where data lives.
    pub keys: Keyspace,
    /// How long idempotency records (and record tombstones) live.
    pub idempotency_ttl: Duration,
    /// Whether Redis is a cluster (multi-key requests must share a slot).
    pub cluster: bool,
}

/// An outcome, and whether it was replayed from an idempotency record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replied<T> {
    /// The outcome.
    pub outcome: T,
    /// True when this is the stored answer to an earlier request.
    pub replayed: bool,
}
