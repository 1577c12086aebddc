//! The operations: typed requests, the script each one calls, and its
//! reply read back as a typed outcome. Free of gRPC.

pub mod binding;
pub mod caller;
mod counters;
mod inventory;
pub mod keyspace;
mod leases;
mod ledger;
pub mod limits;
mod records;
pub mod retention;
mod sequences;
mod status;
pub mod streams;
mod sweep;
pub mod types;
mod values;

use std::time::Duration;

pub use binding::{Execute, Operation};
pub use counters::{
    Adjust, AdjustOutcome, Bound, Consume, GetCounter, GetQuota, QuotaOutcome, QuotaState,
};
pub use inventory::{
    CancelOrder, CancelOutcome, CommitHold, Committed, Deduct, DeductOutcome, Ending, GetHold,
    GetStock, Held, HoldLine, HoldOutcome, HoldState, HoldStock, HoldView, HoldsQuery, Item, Level,
    Movement, MovementKind, MovementsQuery, OrderOutcome, PlaceOrder, ReleaseHold, Restock,
    SetOutcome, SetStock, Shortfall, StockChange,
};
pub use keyspace::Keyspace;
pub use leases::{
    Acquire, AcquireOutcome, Ended, Fence, GetLease, Grant, Holders, LeaseState, MAX_LEASE_LIMIT,
    Release, Renew, TryAcquire, Waiters,
};
pub use ledger::{
    Balance, Credit, Debit, DebitOutcome, EntriesQuery, Entry, EntryKind, FundsEnding, FundsHold,
    FundsHoldOutcome, FundsHoldState, FundsPosted, GetBalances, GetFundsHold, HoldFunds,
    Insufficient, PostHold, Posted, Posting, Transfer, TransferOutcome, VoidHold,
};
pub use limits::Limits;
pub use records::{
    DeleteOutcome, DeleteRecord, GetRecord, Mismatch, PutOutcome, PutRecord, RecordChange,
    SetJournal, Versioned,
};
pub use retention::Retention;
pub use sequences::{GetSequence, NextIds, Rejection, ReturnIds, Returned, SequenceState};
pub use status::{NodeScript, ScriptReport};
pub use streams::{After, Following, Page, ReadAfter, StreamId};
pub use sweep::sweep_holds;
pub use values::{
    CasOutcome, CompareAndSwap, Condition, ConditionalUpdate, GetValue, Operator, UpdateOutcome,
    Write,
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
    /// How long idempotency records live.
    pub idempotency_ttl: Duration,
    /// Whether Redis is a cluster (multi-key requests must share a slot).
    pub cluster: bool,
    /// Which entries the ledger's audit streams keep.
    pub ledger_retention: Retention,
    /// Which entries the stock movements streams keep.
    pub movements_retention: Retention,
    /// Which entries the records' change journals keep.
    pub journal_retention: Retention,
    /// Seconds added to Redis's clock when telling days apart and when
    /// holds expire: 0 but in tests.
    pub clock_skew_secs: i64,
    /// The configurable request limits.
    pub limits: Limits,
    /// The callers waiting for leases.
    pub lease_waiters: std::sync::Arc<Waiters>,
}

/// An outcome, and whether it was replayed from an idempotency record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replied<T> {
    /// The outcome.
    pub outcome: T,
    /// True when this is the stored answer to an earlier request.
    pub replayed: bool,
}

impl<T> Replied<T> {
    /// An outcome found now, not replayed.
    pub fn fresh(outcome: T) -> Self {
        Self {
            outcome,
            replayed: false,
        }
    }
}
