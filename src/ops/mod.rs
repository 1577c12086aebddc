//! The operations: typed requests, the script each one calls, and its
//! reply read back as a typed outcome. Free of gRPC.

mod counters;
mod inventory;
pub mod keyspace;
mod ledger;
mod records;
mod sequences;
mod streams;
pub mod types;
mod values;

use std::time::Duration;

pub use counters::{Adjust, AdjustOutcome, Bound, Consume, QuotaOutcome, QuotaState};
pub use inventory::{
    CancelOutcome, Item, Movement, MovementKind, MovementsQuery, OrderOutcome, PlaceOrder, Restock,
    SetStock, StockChange,
};
pub use keyspace::Keyspace;
pub use ledger::{
    EntriesQuery, Entry, EntryKind, Insufficient, Post, PostOutcome, PostingKind, Transfer,
    TransferOutcome,
};
pub use records::{RecordOutcome, RecordWrite};
pub use sequences::{Rejection, Returned};
pub use streams::Page;
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
    /// Approximate most entries of each movements or audit stream.
    pub stream_max_len: u64,
    /// Seconds added to Redis's clock when telling days apart: 0 but in
    /// tests of the daily rollover.
    pub clock_skew_secs: i64,
    /// The configurable request limits.
    pub limits: Limits,
}

/// Request limits set by configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest value or record key, in bytes.
    pub max_key_bytes: usize,
    /// Most products, levels or accounts in one request.
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_key_bytes: types::MAX_KEY_BYTES,
            max_items: 100,
        }
    }
}

/// An outcome, and whether it was replayed from an idempotency record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replied<T> {
    /// The outcome.
    pub outcome: T,
    /// True when this is the stored answer to an earlier request.
    pub replayed: bool,
}
