//! Stock per store that never oversells: levels, orders, movements.
//!
//! The requests and outcomes are here; their bindings by concern in
//! `stock` (levels), `orders` (placing and cancelling), `movements` and
//! `holds` (which has its own types).

mod holds;
mod movements;
mod orders;
mod stock;

pub(super) use holds::ExpireHolds;
pub use holds::{
    CommitHold, Committed, Ending, GetHold, Held, HoldLine, HoldOutcome, HoldState, HoldStock,
    HoldView, HoldsQuery, ReleaseHold,
};
#[cfg(test)]
pub(super) use holds::{CommitLoaded, Holding, ListHolds, ReleaseLoaded};

use std::time::SystemTime;

use super::{
    Context,
    types::{
        Id, RequestId, Units,
        kind::{Order, Product, Store},
    },
};
use crate::{
    error::Error,
    redis::{Call, Reply},
};

/// How one product's level changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockChange {
    /// The product.
    pub product: String,
    /// The level before.
    pub before: i64,
    /// The level after.
    pub after: i64,
}

/// A product's units on hand and held; the rest is available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Level {
    /// The product.
    pub product: String,
    /// Units on hand.
    pub on_hand: i64,
    /// Units held by holds neither ended nor expired.
    pub held: i64,
}

impl Level {
    /// What an order or a new hold may take.
    #[must_use]
    pub fn available(&self) -> i64 {
        self.on_hand - self.held
    }
}

/// What setting levels did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetOutcome {
    /// The levels were set.
    Set(Vec<StockChange>),
    /// A level was below what holds hold of its product; nothing was set.
    BelowHeld {
        /// The product.
        product: String,
        /// Units held.
        held: i64,
        /// The level asked for.
        requested: i64,
    },
}

/// A product and a number of units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The product.
    pub product: Id<Product>,
    /// Units (a level, or units to take).
    pub units: Units,
}

/// Absolute levels for a store.
#[derive(Clone, Debug)]
pub struct SetStock {
    /// The store.
    pub store: Id<Store>,
    /// New levels, each product once.
    pub levels: Vec<Item>,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// Units added to one product.
#[derive(Clone, Debug)]
pub struct Restock {
    /// The store.
    pub store: Id<Store>,
    /// The product and the units to add.
    pub item: Item,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// An order: units of several products taken at once.
#[derive(Clone, Debug)]
pub struct PlaceOrder {
    /// The store.
    pub store: Id<Store>,
    /// The order id, its idempotency key.
    pub order_id: Id<Order>,
    /// The items, each product once.
    pub items: Vec<Item>,
}

/// What placing an order did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderOutcome {
    /// Every item was taken.
    Placed(Vec<StockChange>),
    /// An item was short; nothing was taken.
    Insufficient(Shortfall),
    /// A retry of an order cancelled since: it holds nothing now.
    Cancelled,
}

/// The first item of an order the store is short of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    /// The product.
    pub product: String,
    /// Units available (on hand, not held).
    pub available: i64,
    /// The units asked for.
    pub requested: i64,
}

/// Takes units of one product, as an order of one item.
#[derive(Clone, Debug)]
pub struct Deduct {
    /// The store.
    pub store: Id<Store>,
    /// The order id, its idempotency key.
    pub order_id: Id<Order>,
    /// The product and the units to take.
    pub item: Item,
}

/// What a deduction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeductOutcome {
    /// The units were taken.
    Deducted(StockChange),
    /// Too few; nothing was taken.
    Insufficient(Shortfall),
    /// A retry of an order cancelled since: it holds nothing now.
    Cancelled,
}

/// Reads stock levels.
#[derive(Clone, Debug)]
pub struct GetStock {
    /// The store.
    pub store: Id<Store>,
    /// The products, in the order their levels are wanted.
    pub products: Vec<Id<Product>>,
}

/// Cancels an order: reads what it took, then puts it back.
#[derive(Clone, Debug)]
pub struct CancelOrder {
    /// The store.
    pub store: Id<Store>,
    /// The order.
    pub order_id: Id<Order>,
    /// The idempotency key of the cancellation.
    pub request_id: Option<RequestId>,
}

/// The products an order took (`inventory_order_items`).
#[derive(Clone, Debug)]
pub struct OrderItems {
    /// The order's key.
    pub(super) order: String,
}

/// The cancellation itself, once the order's products are known.
#[derive(Clone, Debug)]
pub struct CancelLoaded {
    pub(super) request: CancelOrder,
    pub(super) products: Vec<Id<Product>>,
}

/// What the cancellation script answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelReply {
    /// Done (or not needed).
    Done(CancelOutcome),
    /// The order changed since its products were read: read them again.
    Stale,
}

/// What cancelling an order did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// What the order took was put back.
    Cancelled(Vec<StockChange>),
    /// No such order.
    NotFound,
    /// Cancelled before.
    AlreadyCancelled,
}

/// What caused a movement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MovementKind {
    /// SetStock.
    Set,
    /// Restock.
    Restock,
    /// Deduct or PlaceOrder.
    Deduct,
    /// CancelOrder.
    Cancel,
    /// HoldStock.
    Hold,
    /// CommitHold.
    Commit,
    /// ReleaseHold.
    Release,
    /// A hold's expiry.
    Expire,
}

/// One recorded change of a level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movement {
    /// Its id in the store's stream.
    pub id: String,
    /// What caused it.
    pub kind: MovementKind,
    /// The product.
    pub product: String,
    /// The signed change.
    pub delta: i64,
    /// The level before.
    pub before: i64,
    /// The level after.
    pub after: i64,
    /// The order, for deductions and cancellations; the hold, for holds.
    pub order_id: String,
    /// Redis's time of the change.
    pub time: SystemTime,
    /// The signed change of the units held.
    pub held_delta: i64,
    /// The units held after.
    pub held: i64,
    /// The principal of the call that made it; '' for none.
    pub by: String,
}

/// Which movements to list.
#[derive(Clone, Debug)]
pub struct MovementsQuery {
    /// The store.
    pub store: Id<Store>,
    /// Only this product's.
    pub product: Option<Id<Product>>,
    /// At most this many.
    pub page_size: usize,
    /// After this page token.
    pub page_token: Option<String>,
}

/// The keys every stock-changing script has after its record (and the
/// order's, for a cancellation): the store's levels, journal and holds.
const STOCK_KEYS: [&str; 4] = [
    "stock levels",
    "the store's movements",
    "units held",
    "the store's holds",
];

/// The settings every stock-changing script starts its arguments with.
const STOCK_SETTINGS: [&str; 3] = ["retention", "clock skew", "the caller's principal"];

/// Appends the keys and the settings every stock-changing script starts
/// with.
fn stock_call(cx: &Context, store: &Id<Store>, call: Call) -> Call {
    call.key(cx.keys.stock(store))
        .key(cx.keys.movements(store))
        .key(cx.keys.held(store))
        .key(cx.keys.holds(store))
        .setting(cx.movements_retention.to_string())
        .setting(cx.clock_skew_secs)
        .setting(super::caller::name())
}

fn changes(reply: &Reply) -> Result<Vec<StockChange>, Error> {
    (1..reply.len())
        .map(|i| {
            let change = reply.nested(i)?;
            Ok(StockChange {
                product: change.text(0)?,
                before: change.int(1)?,
                after: change.int(2)?,
            })
        })
        .collect()
}
