//! Orders: placed (or deducted) all or nothing, cancelled once.

use super::{
    CancelLoaded, CancelOrder, CancelOutcome, CancelReply, Deduct, DeductOutcome, Item, OrderItems,
    OrderOutcome, PlaceOrder, STOCK_KEYS, STOCK_SETTINGS, Shortfall, changes, stock_call,
};
use crate::{
    deadline::Deadline,
    error::Error,
    ops::{
        Context, Replied,
        binding::{Execute, Layout, Operation, Record},
        types::{
            Id,
            kind::{Order, Product, Store},
        },
    },
    redis::{Call, Reply, Script},
};

/// The positions of `inventory_place_order`, for orders and deductions.
const PLACE: Layout = Layout::write(
    &STOCK_KEYS,
    &[
        STOCK_SETTINGS[0],
        STOCK_SETTINGS[1],
        STOCK_SETTINGS[2],
        "the order id",
    ],
)
.lists(&["6 .. 5+N"], &["7 .. 6+2N"]);

/// The order's record is its idempotency record: an order id is placed once.
fn place_record(cx: &Context, store: &Id<Store>, order_id: &Id<Order>) -> Record {
    Record {
        key: cx.keys.order(store, order_id),
        requested: true,
    }
}

fn place_call(
    cx: &Context,
    store: &Id<Store>,
    order_id: &Id<Order>,
    items: &[Item],
    call: Call,
) -> Call {
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
    const LAYOUT: Layout = Layout::read(&["the order"], &[]);
    /// The products; `None`: no such order.
    type Outcome = Option<Vec<Id<Product>>>;

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
    const LAYOUT: Layout = Layout::write(
        &[
            "the order",
            STOCK_KEYS[0],
            STOCK_KEYS[1],
            STOCK_KEYS[2],
            STOCK_KEYS[3],
        ],
        &[
            STOCK_SETTINGS[0],
            STOCK_SETTINGS[1],
            STOCK_SETTINGS[2],
            "the order id",
        ],
    )
    .lists(&["7 .. 6+N"], &["7 .. 6+N"]);
    type Outcome = CancelReply;

    fn record(&self, cx: &Context) -> Option<Record> {
        let r = &self.request;
        Some(Record::tagged(&cx.keys, &r.store, r.request_id.as_ref()))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let r = &self.request;
        let call = call.key(cx.keys.order(&r.store, &r.order_id));
        let mut call = stock_call(cx, &r.store, call).arg(r.order_id.as_str());
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
