//! `rmw.v1.InventoryService`: stock, orders and movements here, holds in
//! `holds`.

mod holds;

use std::collections::HashMap;

use super::{Fields, Rpc, ids, serve, timestamp};
use crate::{
    error::Error,
    ops::{
        CancelOrder, CancelOutcome, Deduct, DeductOutcome, GetStock, Item, Level, Limits, Movement,
        MovementKind, MovementsQuery, OrderOutcome, Page, PlaceOrder, Replied, Restock, SetOutcome,
        SetStock, Shortfall, StockChange,
        types::{self, Id, Units},
    },
    proto::v1::{
        self as pb, cancel_order_response as cancel, deduct_response as deduct,
        inventory_service_server::InventoryService, movement, place_order_response as place,
        restock_response as restock, set_stock_response as set,
    },
};

serve! {
  InventoryService {
    set_stock(SetStockRequest);
    restock(RestockRequest);
    get_stock(GetStockRequest);
    deduct(DeductRequest);
    place_order(PlaceOrderRequest);
    cancel_order(CancelOrderRequest);
    list_movements(ListMovementsRequest);
    hold_stock(HoldStockRequest);
    commit_hold(CommitHoldRequest);
    release_hold(ReleaseHoldRequest);
    get_hold(GetHoldRequest);
    list_holds(ListHoldsRequest);
  }
  streams {
    watch_movements(WatchMovementsRequest) -> WatchMovementsStream;
  }
}

impl Rpc for pb::SetStockRequest {
    type Op = SetStock;
    type Reply = pb::SetStockResponse;

    fn parse(self, limits: &Limits) -> Result<SetStock, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        for (i, level) in self.levels.iter().enumerate() {
            // What holds hold is the service's to say, not the caller's.
            if level.held != 0 || level.available != 0 {
                f.violate(
                    format_args!("levels[{i}].held"),
                    "held and available are read-only (GetStock reports them); leave them 0",
                );
            }
        }
        let levels = self.levels.iter().map(|l| (l.product.as_str(), l.quantity));
        let levels = items(&mut f, "levels", levels, 0, limits.max_items);
        f.finish(|| {
            Some(SetStock {
                store: store?,
                levels: levels?,
                request_id: request_id?,
            })
        })
    }

    fn reply(replied: Replied<SetOutcome>) -> pb::SetStockResponse {
        let outcome = match replied.outcome {
            SetOutcome::Set(changes) => set::Outcome::Set(set::Set {
                changes: changes.into_iter().map(change).collect(),
            }),
            SetOutcome::BelowHeld {
                product,
                held,
                requested,
            } => set::Outcome::BelowHeld(set::BelowHeld {
                product,
                held,
                requested,
            }),
        };
        pb::SetStockResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::RestockRequest {
    type Op = Restock;
    type Reply = pb::RestockResponse;

    fn parse(self, _limits: &Limits) -> Result<Restock, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let product = f.take("product", Id::parse(&self.product));
        let units = f.take("quantity", Units::parse(self.quantity, 1));
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        f.finish(|| {
            Some(Restock {
                store: store?,
                item: Item {
                    product: product?,
                    units: units?,
                },
                request_id: request_id?,
            })
        })
    }

    fn reply(replied: Replied<StockChange>) -> pb::RestockResponse {
        pb::RestockResponse {
            replayed: replied.replayed,
            outcome: Some(restock::Outcome::Restocked(restock::Restocked {
                change: Some(change(replied.outcome)),
            })),
        }
    }
}

impl Rpc for pb::GetStockRequest {
    type Op = GetStock;
    type Reply = pb::GetStockResponse;

    fn parse(self, limits: &Limits) -> Result<GetStock, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let products = ids(&mut f, "products", &self.products, limits.max_items);
        f.finish(|| {
            Some(GetStock {
                store: store?,
                products: products?,
            })
        })
    }

    fn reply(replied: Replied<Vec<Level>>) -> pb::GetStockResponse {
        pb::GetStockResponse {
            levels: replied.outcome.into_iter().map(level).collect(),
        }
    }
}

impl Rpc for pb::DeductRequest {
    type Op = Deduct;
    type Reply = pb::DeductResponse;

    fn parse(self, _limits: &Limits) -> Result<Deduct, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let product = f.take("product", Id::parse(&self.product));
        let units = f.take("quantity", Units::parse(self.quantity, 1));
        let order_id = f.take("order_id", Id::parse(&self.order_id));
        f.finish(|| {
            Some(Deduct {
                store: store?,
                order_id: order_id?,
                item: Item {
                    product: product?,
                    units: units?,
                },
            })
        })
    }

    fn reply(replied: Replied<DeductOutcome>) -> pb::DeductResponse {
        let outcome = match replied.outcome {
            DeductOutcome::Deducted(only) => deduct::Outcome::Deducted(deduct::Deducted {
                change: Some(change(only)),
            }),
            DeductOutcome::Insufficient(short) => {
                deduct::Outcome::InsufficientStock(shortfall(short))
            }
            DeductOutcome::Cancelled => deduct::Outcome::Cancelled(pb::OrderCancelled {}),
        };
        pb::DeductResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::PlaceOrderRequest {
    type Op = PlaceOrder;
    type Reply = pb::PlaceOrderResponse;

    fn parse(self, limits: &Limits) -> Result<PlaceOrder, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let order_id = f.take("order_id", Id::parse(&self.order_id));
        let list = self.items.iter().map(|i| (i.product.as_str(), i.quantity));
        let items = items(&mut f, "items", list, 1, limits.max_items);
        f.finish(|| {
            Some(PlaceOrder {
                store: store?,
                order_id: order_id?,
                items: items?,
            })
        })
    }

    fn reply(replied: Replied<OrderOutcome>) -> pb::PlaceOrderResponse {
        let outcome = match replied.outcome {
            OrderOutcome::Placed(changes) => place::Outcome::Placed(place::Placed {
                changes: changes.into_iter().map(change).collect(),
            }),
            OrderOutcome::Insufficient(short) => {
                place::Outcome::InsufficientStock(shortfall(short))
            }
            OrderOutcome::Cancelled => place::Outcome::Cancelled(pb::OrderCancelled {}),
        };
        pb::PlaceOrderResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::CancelOrderRequest {
    type Op = CancelOrder;
    type Reply = pb::CancelOrderResponse;

    fn parse(self, _limits: &Limits) -> Result<CancelOrder, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let order_id = f.take("order_id", Id::parse(&self.order_id));
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        f.finish(|| {
            Some(CancelOrder {
                store: store?,
                order_id: order_id?,
                request_id: request_id?,
            })
        })
    }

    fn reply(replied: Replied<CancelOutcome>) -> pb::CancelOrderResponse {
        let outcome = match replied.outcome {
            CancelOutcome::Cancelled(changes) => cancel::Outcome::Cancelled(cancel::Cancelled {
                changes: changes.into_iter().map(change).collect(),
            }),
            CancelOutcome::NotFound => cancel::Outcome::NotFound(cancel::NotFound {}),
            CancelOutcome::AlreadyCancelled => {
                cancel::Outcome::AlreadyCancelled(cancel::AlreadyCancelled {})
            }
        };
        pb::CancelOrderResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::ListMovementsRequest {
    type Op = MovementsQuery;
    type Reply = pb::ListMovementsResponse;

    fn parse(self, _limits: &Limits) -> Result<MovementsQuery, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let product = f.take("product", Id::parse_optional(&self.product));
        let page_size = f.take("page_size", types::page_size(self.page_size));
        let page_token = f.take("page_token", types::page_token(&self.page_token));
        f.finish(|| {
            Some(MovementsQuery {
                store: store?,
                product: product?,
                page_size: page_size?,
                page_token: page_token?,
            })
        })
    }

    fn reply(replied: Replied<Page<Movement>>) -> pb::ListMovementsResponse {
        let page = replied.outcome;
        pb::ListMovementsResponse {
            movements: page.items.into_iter().map(movement).collect(),
            next_page_token: page.next_token.unwrap_or_default(),
        }
    }
}

fn shortfall(short: Shortfall) -> pb::InsufficientStock {
    pb::InsufficientStock {
        product: short.product,
        available: short.available,
        requested: short.requested,
    }
}

/// Validates a list of `(product, units)`: 1 to `max_items` of them, each
/// product once, units from `min` to 2^53−1.
fn items<'a>(
    f: &mut Fields,
    field: &str,
    items: impl ExactSizeIterator<Item = (&'a str, i64)>,
    min: i64,
    max_items: usize,
) -> Option<Vec<Item>> {
    if items.len() == 0 || items.len() > max_items {
        f.violate(field, format!("must hold 1 to {max_items} products"));
        return None;
    }
    let mut first: HashMap<&str, usize> = HashMap::new();
    let checked: Vec<Option<Item>> = items
        .enumerate()
        .map(|(i, (product, units))| {
            if let Some(at) = first.insert(product, i) {
                f.violate(
                    format_args!("{field}[{i}].product"),
                    format!("product appears twice (first at {field}[{at}])"),
                );
            }
            let product = f.take(format_args!("{field}[{i}].product"), Id::parse(product));
            let units = f.take(
                format_args!("{field}[{i}].quantity"),
                Units::parse(units, min),
            );
            Some(Item {
                product: product?,
                units: units?,
            })
        })
        .collect();
    checked.into_iter().collect()
}

fn change(change: StockChange) -> pb::StockChange {
    pb::StockChange {
        product: change.product,
        before: change.before,
        after: change.after,
    }
}

pub(super) fn movement(m: Movement) -> pb::Movement {
    let kind = match m.kind {
        MovementKind::Set => movement::Kind::Set,
        MovementKind::Restock => movement::Kind::Restock,
        MovementKind::Deduct => movement::Kind::Deduct,
        MovementKind::Cancel => movement::Kind::Cancel,
        MovementKind::Hold => movement::Kind::Hold,
        MovementKind::Commit => movement::Kind::Commit,
        MovementKind::Release => movement::Kind::Release,
        MovementKind::Expire => movement::Kind::Expire,
    };
    pb::Movement {
        id: m.id,
        kind: kind.into(),
        product: m.product,
        delta: m.delta,
        before: m.before,
        after: m.after,
        order_id: m.order_id,
        time: Some(timestamp(m.time)),
        held_delta: m.held_delta,
        held: m.held,
        principal: m.by,
    }
}

fn level(level: Level) -> pb::StockLevel {
    pb::StockLevel {
        available: level.available(),
        product: level.product,
        quantity: level.on_hand,
        held: level.held,
    }
}
