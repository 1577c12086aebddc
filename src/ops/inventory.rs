//! Stock per store that never oversells: levels, orders, movements.

use std::time::SystemTime;

use super::{
    Context, Replied,
    binding::{Execute, Layout, Operation, Record},
    streams::Page,
    types::{Id, Units},
};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Reply, Script, field},
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

/// A product and a number of units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The product.
    pub product: Id,
    /// Units (a level, or units to take).
    pub units: Units,
}

/// Absolute levels for a store.
#[derive(Clone, Debug)]
pub struct SetStock {
    /// The store.
    pub store: Id,
    /// New levels, each product once.
    pub levels: Vec<Item>,
    /// The idempotency key.
    pub request_id: Option<Id>,
}

/// Units added to one product.
#[derive(Clone, Debug)]
pub struct Restock {
    /// The store.
    pub store: Id,
    /// The product and the units to add.
    pub item: Item,
    /// The idempotency key.
    pub request_id: Option<Id>,
}

/// An order: units of several products taken at once.
#[derive(Clone, Debug)]
pub struct PlaceOrder {
    /// The store.
    pub store: Id,
    /// The order id, its idempotency key.
    pub order_id: Id,
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
    /// Its level.
    pub available: i64,
    /// The units asked for.
    pub requested: i64,
}

/// Takes units of one product, as an order of one item.
#[derive(Clone, Debug)]
pub struct Deduct {
    /// The store.
    pub store: Id,
    /// The order id, its idempotency key.
    pub order_id: Id,
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
    pub store: Id,
    /// The products, in the order their levels are wanted.
    pub products: Vec<Id>,
}

/// Cancels an order: reads what it took, then puts it back.
#[derive(Clone, Debug)]
pub struct CancelOrder {
    /// The store.
    pub store: Id,
    /// The order.
    pub order_id: Id,
    /// The idempotency key of the cancellation.
    pub request_id: Option<Id>,
}

/// The products an order took (`inventory_order_items`).
#[derive(Clone, Debug)]
pub struct OrderItems {
    /// The order's key.
    order: String,
}

/// The cancellation itself, once the order's products are known.
#[derive(Clone, Debug)]
pub struct CancelLoaded {
    request: CancelOrder,
    products: Vec<Id>,
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
    /// The order, for deductions and cancellations.
    pub order_id: String,
    /// Redis's time of the change.
    pub time: SystemTime,
}

/// Which movements to list.
#[derive(Clone, Debug)]
pub struct MovementsQuery {
    /// The store.
    pub store: Id,
    /// Only this product's.
    pub product: Option<Id>,
    /// At most this many.
    pub page_size: usize,
    /// After this page token.
    pub page_token: Option<String>,
}

/// The positions every stock-changing script starts with.
const STOCK_KEYS: [&str; 2] = ["stock levels", "the store's movements"];

fn stock_call(cx: &Context, store: &Id, call: Call) -> Call {
    call.key(cx.keys.stock(store))
        .key(cx.keys.movements(store))
        .setting(cx.stream_max_len)
}

impl Operation for SetStock {
    const SCRIPT: Script = Script::InventorySetStock;
    const LAYOUT: Layout = Layout {
        writes: true,
        keys: &STOCK_KEYS,
        key_lists: &["4 .. 3+N"],
        argv: &["maxlen"],
        argv_lists: &["4 .. 3+2N"],
    };
    type Outcome = Vec<StockChange>;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(
            &cx.keys,
            "inv",
            &self.store,
            self.request_id.as_ref(),
        ))
    }

    fn build(&self, cx: &Context, mut call: Call) -> Call {
        call = stock_call(cx, &self.store, call);
        for item in &self.levels {
            call = call.key(cx.keys.product_movements(&self.store, &item.product));
        }
        for item in &self.levels {
            call = call.arg(item.product.as_str()).arg(item.units.get());
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<Vec<StockChange>, Error> {
        if reply.tag()? != "set" {
            return Err(reply.unexpected());
        }
        changes(reply)
    }
}

impl Operation for Restock {
    const SCRIPT: Script = Script::InventoryRestock;
    const LAYOUT: Layout = Layout {
        writes: true,
        keys: &[STOCK_KEYS[0], STOCK_KEYS[1], "the product's movements"],
        key_lists: &[],
        argv: &["maxlen", "the product", "units to add"],
        argv_lists: &[],
    };
    type Outcome = StockChange;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(
            &cx.keys,
            "inv",
            &self.store,
            self.request_id.as_ref(),
        ))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let item = &self.item;
        stock_call(cx, &self.store, call)
            .key(cx.keys.product_movements(&self.store, &item.product))
            .arg(item.product.as_str())
            .arg(item.units.get())
    }

    fn decode(&self, reply: &Reply) -> Result<StockChange, Error> {
        match reply.tag()? {
            "restocked" => Ok(StockChange {
                product: self.item.product.to_string(),
                before: reply.int(1)?,
                after: reply.int(2)?,
            }),
            "overflow" => Err(Error::invalid(
                "quantity",
                format!(
                    "would take the level of {} past 2^53-1 (it is {})",
                    self.item.product,
                    reply.int(1)?
                ),
            )),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for GetStock {
    const SCRIPT: Script = Script::InventoryGetStock;
    const LAYOUT: Layout = Layout {
        writes: false,
        keys: &[STOCK_KEYS[0]],
        key_lists: &[],
        argv: &[],
        argv_lists: &["1 .. N"],
    };
    /// `(product, level)`, in the order asked.
    type Outcome = Vec<(Id, i64)>;

    fn record(&self, _cx: &Context) -> Option<Record> {
        None
    }

    fn build(&self, cx: &Context, mut call: Call) -> Call {
        call = call.key(cx.keys.stock(&self.store));
        for product in &self.products {
            call = call.arg(product.as_str());
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        if reply.tag()? != "levels" || reply.len() != self.products.len() + 1 {
            return Err(reply.unexpected());
        }
        let levels = (1..reply.len()).map(|i| reply.int(i));
        self.products
            .iter()
            .cloned()
            .zip(levels)
            .map(|(product, level)| Ok((product, level?)))
            .collect()
    }
}

/// The positions of `inventory_place_order`, for orders and deductions.
const PLACE: Layout = Layout {
    writes: true,
    keys: &STOCK_KEYS,
    key_lists: &["4 .. 3+N"],
    argv: &["maxlen", "the order id"],
    argv_lists: &["5 .. 4+2N"],
};

/// The order's record is its idempotency record: an order id is placed once.
fn place_record(cx: &Context, store: &Id, order_id: &Id) -> Record {
    Record {
        key: cx.keys.order(store, order_id),
        requested: true,
    }
}

fn place_call(cx: &Context, store: &Id, order_id: &Id, items: &[Item], call: Call) -> Call {
    let mut call = stock_call(cx, store, call).arg(order_id.as_str());
    for item in items {
        call = call
            .key(cx.keys.product_movements(store, &item.product))
            .arg(item.product.as_str())
            .arg(item.units.get());
    }
    call
}

fn shortfall(reply: &Reply) -> Result<Shortfall, Error> {
    Ok(Shortfall {
        product: reply.text(1)?,
        available: reply.int(2)?,
        requested: reply.int(3)?,
    })
}

impl Operation for PlaceOrder {
    const SCRIPT: Script = Script::InventoryPlaceOrder;
    const LAYOUT: Layout = PLACE;
    type Outcome = OrderOutcome;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(place_record(cx, &self.store, &self.order_id))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        place_call(cx, &self.store, &self.order_id, &self.items, call)
    }

    fn decode(&self, reply: &Reply) -> Result<OrderOutcome, Error> {
        match reply.tag()? {
            "placed" => Ok(OrderOutcome::Placed(changes(reply)?)),
            "insufficient" => Ok(OrderOutcome::Insufficient(shortfall(reply)?)),
            "cancelled" if reply.replayed => Ok(OrderOutcome::Cancelled),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for Deduct {
    const SCRIPT: Script = Script::InventoryPlaceOrder;
    const LAYOUT: Layout = PLACE;
    type Outcome = DeductOutcome;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(place_record(cx, &self.store, &self.order_id))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let items = std::slice::from_ref(&self.item);
        place_call(cx, &self.store, &self.order_id, items, call)
    }

    fn decode(&self, reply: &Reply) -> Result<DeductOutcome, Error> {
        match reply.tag()? {
            "placed" => match changes(reply)?.as_slice() {
                [only] => Ok(DeductOutcome::Deducted(only.clone())),
                _ => Err(reply.unexpected()),
            },
            "insufficient" => Ok(DeductOutcome::Insufficient(shortfall(reply)?)),
            "cancelled" if reply.replayed => Ok(DeductOutcome::Cancelled),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for OrderItems {
    const SCRIPT: Script = Script::InventoryOrderItems;
    const LAYOUT: Layout = Layout {
        writes: false,
        keys: &["the order"],
        key_lists: &[],
        argv: &[],
        argv_lists: &[],
    };
    /// The products; `None`: no such order.
    type Outcome = Option<Vec<Id>>;

    fn record(&self, _cx: &Context) -> Option<Record> {
        None
    }

    fn build(&self, _cx: &Context, call: Call) -> Call {
        call.key(self.order.clone())
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        match reply.tag()? {
            "items" => (1..reply.len())
                .map(|i| Id::parse(&reply.text(i)?).map_err(|_| reply.unexpected()))
                .collect::<Result<_, _>>()
                .map(Some),
            "not_found" => Ok(None),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for CancelLoaded {
    const SCRIPT: Script = Script::InventoryCancelOrder;
    const LAYOUT: Layout = Layout {
        writes: true,
        keys: &["the order", STOCK_KEYS[0], STOCK_KEYS[1]],
        key_lists: &["5 .. 4+N"],
        argv: &["maxlen", "the order id"],
        argv_lists: &["5 .. 4+N"],
    };
    type Outcome = CancelReply;

    fn record(&self, cx: &Context) -> Option<Record> {
        let r = &self.request;
        Some(Record::tagged(
            &cx.keys,
            "inv",
            &r.store,
            r.request_id.as_ref(),
        ))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let r = &self.request;
        let mut call = call
            .key(cx.keys.order(&r.store, &r.order_id))
            .key(cx.keys.stock(&r.store))
            .key(cx.keys.movements(&r.store))
            .setting(cx.stream_max_len)
            .arg(r.order_id.as_str());
        for product in &self.products {
            call = call
                .key(cx.keys.product_movements(&r.store, product))
                .arg(product.as_str());
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<CancelReply, Error> {
        let outcome = match reply.tag()? {
            "cancelled" => CancelOutcome::Cancelled(changes(reply)?),
            "not_found" => CancelOutcome::NotFound,
            "already_cancelled" => CancelOutcome::AlreadyCancelled,
            "stale" => return Ok(CancelReply::Stale),
            "overflow" => {
                return Err(Error::invalid(
                    "order_id",
                    format!(
                        "putting the order back would take the level of {} past 2^53-1 (it is {})",
                        reply.text(1)?,
                        reply.int(2)?
                    ),
                ));
            }
            _ => return Err(reply.unexpected()),
        };
        Ok(CancelReply::Done(outcome))
    }
}

impl Execute for CancelOrder {
    type Outcome = CancelOutcome;

    /// Reads the order's products, then cancels it with them; once more if
    /// the order changed in between.
    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<CancelOutcome>, Error> {
        let order = cx.keys.order(&self.store, &self.order_id);
        for _ in 0..2 {
            let items = OrderItems {
                order: order.clone(),
            };
            let Some(products) = cx.run(&items, deadline).await?.outcome else {
                return Ok(Replied::fresh(CancelOutcome::NotFound));
            };
            let cancel = CancelLoaded {
                request: self.clone(),
                products,
            };
            let replied = cx.run(&cancel, deadline).await?;
            if let CancelReply::Done(outcome) = replied.outcome {
                return Ok(Replied {
                    outcome,
                    replayed: replied.replayed,
                });
            }
        }
        Err(Error::internal(
            Script::InventoryCancelOrder.name(),
            "the order changed twice between reading and cancelling it",
        ))
    }
}

impl Execute for MovementsQuery {
    type Outcome = Page<Movement>;

    /// Lists movements, newest first.
    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<Page<Movement>>, Error> {
        let stream = match &self.product {
            Some(product) => cx.keys.product_movements(&self.store, product),
            None => cx.keys.movements(&self.store),
        };
        let filtered = self.product.is_some();
        let page = cx
            .page(
                stream,
                self.page_token.as_deref(),
                self.page_size,
                deadline,
                |entry| {
                    let kind = match entry.text(field::KIND)?.as_str() {
                        "set" => MovementKind::Set,
                        "restock" => MovementKind::Restock,
                        "deduct" => MovementKind::Deduct,
                        "cancel" => MovementKind::Cancel,
                        _ => return Err(Error::internal("streams_page", "unknown movement kind")),
                    };
                    Ok(Movement {
                        id: entry.main_id(filtered)?,
                        kind,
                        product: entry.text(field::PRODUCT)?,
                        delta: entry.int(field::DELTA)?,
                        before: entry.int(field::BEFORE)?,
                        after: entry.int(field::AFTER)?,
                        order_id: entry.text(field::ORDER)?,
                        time: entry.time()?,
                    })
                },
            )
            .await?;
        Ok(Replied::fresh(page))
    }
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
