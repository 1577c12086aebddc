//! Holds: units taken out of reach now, committed or released later, or
//! expired by Redis's clock (`lua/lib/holds.lua`).
//!
//! A hold id is the id of the order a commit makes of it, so it is an
//! `Id<Order>`: hold and order ids share one namespace per store. The
//! requests and outcomes are here, the script bindings in `bindings`, and
//! the requests that take more than one script in `execute`.

mod bindings;
mod execute;

use std::time::{Duration, SystemTime};

pub(crate) use bindings::Holding;

use super::{Item, Level, Shortfall, StockChange};
use crate::ops::{
    Fence,
    types::{
        Id, RequestId,
        kind::{Order, Product, Store},
    },
};

/// Units of several products held until a commit, a release or `ttl`.
#[derive(Clone, Debug)]
pub struct HoldStock {
    /// The store.
    pub store: Id<Store>,
    /// The hold id, its idempotency key.
    pub hold_id: Id<Order>,
    /// The items, each product once.
    pub items: Vec<Item>,
    /// How long the hold lasts (whole milliseconds, at least one).
    pub ttl: Duration,
    /// Hold only while this lease grant is current.
    pub fence: Option<Fence>,
}

/// A hold that holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// When it expires, by Redis's clock.
    pub expires_at: SystemTime,
    /// Its products' levels after it, in item order.
    pub levels: Vec<Level>,
}

/// What holding did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldOutcome {
    /// The units are held.
    Held(Held),
    /// An item was short; nothing is held.
    Insufficient(Shortfall),
    /// The fence's token is not current; the newest current token (0:
    /// none). Nothing is held.
    Fenced(u64),
}

/// Commits a hold, in full (`items: None`) or the units listed.
#[derive(Clone, Debug)]
pub struct CommitHold {
    /// The store.
    pub store: Id<Store>,
    /// The hold.
    pub hold_id: Id<Order>,
    /// Units to commit per product; products not listed commit none.
    pub items: Option<Vec<Item>>,
    /// The idempotency key of the commit.
    pub request_id: Option<RequestId>,
    /// Commit only while this lease grant is current.
    pub fence: Option<Fence>,
}

/// What committing did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Per product of the hold, its level's change.
    pub changes: Vec<StockChange>,
    /// Per product of the hold, the units not committed (available again).
    pub released: Vec<(String, i64)>,
}

/// Ends a hold without taking anything.
#[derive(Clone, Debug)]
pub struct ReleaseHold {
    /// The store.
    pub store: Id<Store>,
    /// The hold.
    pub hold_id: Id<Order>,
    /// The idempotency key of the release.
    pub request_id: Option<RequestId>,
    /// Release only while this lease grant is current.
    pub fence: Option<Fence>,
}

/// What committing or releasing a hold did: `T`, or why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending<T> {
    /// Done.
    Done(T),
    /// No such hold.
    NotFound,
    /// Committed before.
    AlreadyCommitted,
    /// Released before.
    AlreadyReleased,
    /// It expired, at this time.
    Expired(SystemTime),
    /// The fence's token is not current; the newest current token (0:
    /// none). Nothing was written.
    Fenced(u64),
}

/// Reads a hold.
#[derive(Clone, Debug)]
pub struct GetHold {
    /// The store.
    pub store: Id<Store>,
    /// The hold.
    pub hold_id: Id<Order>,
}

/// Where a hold stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldState {
    /// Its units are held.
    Held,
    /// Committed: an order now.
    Committed,
    /// Released.
    Released,
    /// Expired.
    Expired,
    /// Committed, then cancelled as an order.
    Cancelled,
}

/// A line of a hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldLine {
    /// The product.
    pub product: String,
    /// Units held (or that were).
    pub units: i64,
    /// Units committed.
    pub committed: i64,
}

/// A hold as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldView {
    /// Its id.
    pub hold_id: String,
    /// Where it stands.
    pub state: HoldState,
    /// When it expires or expired.
    pub expires_at: SystemTime,
    /// When it ended, if it has.
    pub ended_at: Option<SystemTime>,
    /// Its lines.
    pub lines: Vec<HoldLine>,
}

/// Which holds to list.
#[derive(Clone, Debug)]
pub struct HoldsQuery {
    /// The store.
    pub store: Id<Store>,
    /// At most this many.
    pub page_size: usize,
    /// After this page token.
    pub page_token: Option<String>,
}

/// The commit itself, once the hold's products are known.
#[derive(Clone, Debug)]
pub struct CommitLoaded {
    request: CommitHold,
    /// Per product of the hold, in hold order: units to commit (`None`:
    /// all it holds).
    lines: Vec<(Id<Product>, Option<i64>)>,
}

/// The release itself, once the hold's products are known.
#[derive(Clone, Debug)]
pub struct ReleaseLoaded {
    request: ReleaseHold,
    products: Vec<Id<Product>>,
}

/// One page of holds (`inventory_list_holds`).
#[derive(Clone, Debug)]
pub struct ListHolds {
    store: Id<Store>,
    size: usize,
    after: Option<(u64, String)>,
}

/// Ends a store's due holds (`inventory_expire_holds`), for the sweep.
#[derive(Clone, Debug)]
pub struct ExpireHolds {
    pub(in crate::ops) store: Id<Store>,
}

/// A write that read its hold's products first: done, or read again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loaded<T> {
    /// Done.
    Done(T),
    /// The hold changed since its products were read.
    Stale,
}
