//! Stock per store that never oversells: levels, orders, movements.

use std::time::SystemTime;

use super::{Context, Replied, streams::Page, types::Id};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Reply, Script},
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
    pub units: i64,
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
    Insufficient {
        /// The first short product.
        product: String,
        /// Its level.
        available: i64,
        /// The units asked for.
        requested: i64,
    },
    /// A retry of an order cancelled since: it holds nothing now.
    Cancelled,
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

impl Context {
    fn stock_call(&self, script: Script, store: &Id, record: String, requested: bool) -> Call {
        Call::write(script, record, requested, self.idempotency_ttl)
            .key(self.keys.stock(store))
            .key(self.keys.movements(store))
            .setting(self.stream_max_len)
    }

    /// Sets absolute levels.
    pub async fn set_stock(
        &self,
        request: &SetStock,
        deadline: Deadline,
    ) -> Result<Replied<Vec<StockChange>>, Error> {
        let record =
            self.keys
                .tagged_idempotency("inv", &request.store, request.request_id.as_ref());
        let mut call = self.stock_call(
            Script::InventorySetStock,
            &request.store,
            record,
            request.request_id.is_some(),
        );
        for item in &request.levels {
            call = call.key(self.keys.product_movements(&request.store, &item.product));
        }
        for item in &request.levels {
            call = call.arg(item.product.as_str()).arg(item.units);
        }
        let reply = self.redis.eval(&call, deadline).await?;
        if reply.tag()? != "set" {
            return Err(reply.unexpected());
        }
        Ok(Replied {
            outcome: changes(&reply)?,
            replayed: reply.replayed,
        })
    }

    /// Adds units to one product; a level that would pass 2^53−1 is
    /// refused as INVALID_ARGUMENT, never rounded.
    pub async fn restock(
        &self,
        request: &Restock,
        deadline: Deadline,
    ) -> Result<Replied<StockChange>, Error> {
        let record =
            self.keys
                .tagged_idempotency("inv", &request.store, request.request_id.as_ref());
        let item = &request.item;
        let call = self
            .stock_call(
                Script::InventoryRestock,
                &request.store,
                record,
                request.request_id.is_some(),
            )
            .key(self.keys.product_movements(&request.store, &item.product))
            .arg(item.product.as_str())
            .arg(item.units);
        let reply = self.redis.eval(&call, deadline).await?;
        match reply.tag()? {
            "restocked" => Ok(Replied {
                outcome: StockChange {
                    product: item.product.to_string(),
                    before: reply.int(1)?,
                    after: reply.int(2)?,
                },
                replayed: reply.replayed,
            }),
            "overflow" => Err(Error::invalid(
                "quantity",
                format!(
                    "would take the level of {} past 2^53-1 (it is {})",
                    item.product,
                    reply.int(1)?
                ),
            )),
            _ => Err(reply.unexpected()),
        }
    }

    /// Reads levels, in the order asked.
    pub async fn get_stock(
        &self,
        store: &Id,
        products: &[Id],
        deadline: Deadline,
    ) -> Result<Vec<i64>, Error> {
        let mut call = Call::read(Script::InventoryGetStock).key(self.keys.stock(store));
        for product in products {
            call = call.arg(product.as_str());
        }
        let reply = self.redis.eval(&call, deadline).await?;
        if reply.tag()? != "levels" || reply.len() != products.len() + 1 {
            return Err(reply.unexpected());
        }
        (1..reply.len()).map(|i| reply.int(i)).collect()
    }

    /// Places an order (Deduct is an order of one item).
    pub async fn place_order(
        &self,
        request: &PlaceOrder,
        deadline: Deadline,
    ) -> Result<Replied<OrderOutcome>, Error> {
        let record = self.keys.order(&request.store, &request.order_id);
        let mut call = self
            .stock_call(Script::InventoryPlaceOrder, &request.store, record, true)
            .arg(request.order_id.as_str());
        for item in &request.items {
            call = call
                .key(self.keys.product_movements(&request.store, &item.product))
                .arg(item.product.as_str())
                .arg(item.units);
        }
        let reply = self.redis.eval(&call, deadline).await?;
        let outcome = match reply.tag()? {
            "placed" => OrderOutcome::Placed(changes(&reply)?),
            "insufficient" => OrderOutcome::Insufficient {
                product: reply.text(1)?,
                available: reply.int(2)?,
                requested: reply.int(3)?,
            },
            "cancelled" if reply.replayed => OrderOutcome::Cancelled,
            _ => return Err(reply.unexpected()),
        };
        Ok(Replied {
            outcome,
            replayed: reply.replayed,
        })
    }

    /// Puts back what an order took, once.
    ///
    /// A script must declare every key it touches, and the order's products
    /// (whose movement streams it writes) are only known from the order
    /// itself: so they are read first, and the cancel checks that the order
    /// is still the one read. Orders never change once placed, so a second
    /// read is needed only if the order expired and was placed anew in
    /// between.
    pub async fn cancel_order(
        &self,
        store: &Id,
        order_id: &Id,
        request_id: Option<&Id>,
        deadline: Deadline,
    ) -> Result<Replied<CancelOutcome>, Error> {
        let order = self.keys.order(store, order_id);
        for _ in 0..2 {
            let items = self
                .redis
                .eval(
                    &Call::read(Script::InventoryOrderItems).key(order.clone()),
                    deadline,
                )
                .await?;
            let products: Vec<String> = match items.tag()? {
                "items" => (1..items.len())
                    .map(|i| items.text(i))
                    .collect::<Result<_, _>>()?,
                "not_found" => {
                    return Ok(Replied {
                        outcome: CancelOutcome::NotFound,
                        replayed: false,
                    });
                }
                _ => return Err(items.unexpected()),
            };
            let record = self.keys.tagged_idempotency("inv", store, request_id);
            let mut call = Call::write(
                Script::InventoryCancelOrder,
                record,
                request_id.is_some(),
                self.idempotency_ttl,
            )
            .key(order.clone())
            .key(self.keys.stock(store))
            .key(self.keys.movements(store))
            .setting(self.stream_max_len)
            .arg(order_id.as_str());
            for product in &products {
                let product_id = Id::parse(product).map_err(|_| items.unexpected())?;
                call = call
                    .key(self.keys.product_movements(store, &product_id))
                    .arg(product.as_str());
            }
            let reply = self.redis.eval(&call, deadline).await?;
            let outcome = match reply.tag()? {
                "cancelled" => CancelOutcome::Cancelled(changes(&reply)?),
                "not_found" => CancelOutcome::NotFound,
                "already_cancelled" => CancelOutcome::AlreadyCancelled,
                "stale" => continue,
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
            return Ok(Replied {
                outcome,
                replayed: reply.replayed,
            });
        }
        Err(Error::internal(
            Script::InventoryCancelOrder.name(),
            "the order changed twice between reading and cancelling it",
        ))
    }

    /// Lists movements, newest first.
    pub async fn movements(
        &self,
        query: &MovementsQuery,
        deadline: Deadline,
    ) -> Result<Page<Movement>, Error> {
        let stream = match &query.product {
            Some(product) => self.keys.product_movements(&query.store, product),
            None => self.keys.movements(&query.store),
        };
        let filtered = query.product.is_some();
        self.page(
            stream,
            query.page_token.as_deref(),
            query.page_size,
            deadline,
            |entry| {
                let kind = match entry.text("k")?.as_str() {
                    "set" => MovementKind::Set,
                    "restock" => MovementKind::Restock,
                    "deduct" => MovementKind::Deduct,
                    "cancel" => MovementKind::Cancel,
                    _ => return Err(Error::internal("streams_page", "unknown movement kind")),
                };
                Ok(Movement {
                    id: entry.main_id(filtered)?,
                    kind,
                    product: entry.text("p")?,
                    delta: entry.int("d")?,
                    before: entry.int("b")?,
                    after: entry.int("a")?,
                    order_id: entry.text("o")?,
                    time: entry.time()?,
                })
            },
        )
        .await
    }
}

/// The `{product, before, after}` arrays after a reply's tag.
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
