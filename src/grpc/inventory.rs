//! `rmw.v1.InventoryService`.

use std::collections::HashMap;

use tonic::{Request, Response, Status};

use super::{deadline_of, ids, reply, timestamp};
use crate::{
    error::{Error, Fields},
    ops::{
        CancelOutcome, Context, Item, Movement, MovementKind, MovementsQuery, OrderOutcome,
        PlaceOrder, Restock, SetStock, StockChange,
        types::{self, Id},
    },
    proto::v1::{
        self as pb, cancel_order_response as cancel, deduct_response as deduct,
        inventory_service_server::InventoryService, movement, place_order_response as place,
        restock_response as restock, set_stock_response as set,
    },
};

/// The InventoryService handlers.
pub struct Inventory {
    cx: Context,
}

impl Inventory {
    /// Handlers over `cx`.
    #[must_use]
    pub fn new(cx: Context) -> Self {
        Self { cx }
    }
}

#[tonic::async_trait]
impl InventoryService for Inventory {
    async fn set_stock(
        &self,
        request: Request<pb::SetStockRequest>,
    ) -> Result<Response<pb::SetStockResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&request.store));
        let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
        let levels = items(
            &mut f,
            "levels",
            request
                .levels
                .iter()
                .map(|l| (l.product.as_str(), l.quantity)),
            0,
            self.cx.limits.max_items,
        );
        let request = f.finish(|| {
            Some(SetStock {
                store: store?,
                levels: levels?,
                request_id: request_id?,
            })
        })?;
        let replied = self.cx.set_stock(&request, deadline).await?;
        Ok(reply(pb::SetStockResponse {
            replayed: replied.replayed,
            outcome: Some(set::Outcome::Set(set::Set {
                changes: replied.outcome.into_iter().map(change).collect(),
            })),
        }))
    }

    async fn restock(
        &self,
        request: Request<pb::RestockRequest>,
    ) -> Result<Response<pb::RestockResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&request.store));
        let product = f.take("product", Id::parse(&request.product));
        let units = f.take("quantity", types::quantity(request.quantity, 1));
        let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
        let request = f.finish(|| {
            Some(Restock {
                store: store?,
                item: Item {
                    product: product?,
                    units: units?,
                },
                request_id: request_id?,
            })
        })?;
        let replied = self.cx.restock(&request, deadline).await?;
        Ok(reply(pb::RestockResponse {
            replayed: replied.replayed,
            outcome: Some(restock::Outcome::Restocked(restock::Restocked {
                change: Some(change(replied.outcome)),
            })),
        }))
    }

    async fn get_stock(
        &self,
        request: Request<pb::GetStockRequest>,
    ) -> Result<Response<pb::GetStockResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&request.store));
        let products = ids(
            &mut f,
            "products",
            &request.products,
            self.cx.limits.max_items,
        );
        let (store, products) = f.finish(|| Some((store?, products?)))?;
        let levels = self.cx.get_stock(&store, &products, deadline).await?;
        Ok(reply(pb::GetStockResponse {
            levels: products
                .into_iter()
                .zip(levels)
                .map(|(product, quantity)| pb::StockLevel {
                    product: product.to_string(),
                    quantity,
                })
                .collect(),
        }))
    }

    async fn deduct(
        &self,
        request: Request<pb::DeductRequest>,
    ) -> Result<Response<pb::DeductResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&request.store));
        let product = f.take("product", Id::parse(&request.product));
        let units = f.take("quantity", types::quantity(request.quantity, 1));
        let order_id = f.take("order_id", Id::parse(&request.order_id));
        let order = f.finish(|| {
            Some(PlaceOrder {
                store: store?,
                order_id: order_id?,
                items: vec![Item {
                    product: product?,
                    units: units?,
                }],
            })
        })?;
        let replied = self.cx.place_order(&order, deadline).await?;
        let outcome = match replied.outcome {
            OrderOutcome::Placed(changes) => {
                let Some(only) = changes.into_iter().next() else {
                    return Err(
                        Error::internal("inventory_place_order", "no change for one item").into(),
                    );
                };
                deduct::Outcome::Deducted(deduct::Deducted {
                    change: Some(change(only)),
                })
            }
            OrderOutcome::Insufficient {
                product,
                available,
                requested,
            } => deduct::Outcome::InsufficientStock(pb::InsufficientStock {
                product,
                available,
                requested,
            }),
            OrderOutcome::Cancelled => deduct::Outcome::Cancelled(pb::OrderCancelled {}),
        };
        Ok(reply(pb::DeductResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }

    async fn place_order(
        &self,
        request: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&request.store));
        let order_id = f.take("order_id", Id::parse(&request.order_id));
        let items = items(
            &mut f,
            "items",
            request
                .items
                .iter()
                .map(|i| (i.product.as_str(), i.quantity)),
            1,
            self.cx.limits.max_items,
        );
        let order = f.finish(|| {
            Some(PlaceOrder {
                store: store?,
                order_id: order_id?,
                items: items?,
            })
        })?;
        let replied = self.cx.place_order(&order, deadline).await?;
        let outcome = match replied.outcome {
            OrderOutcome::Placed(changes) => place::Outcome::Placed(place::Placed {
                changes: changes.into_iter().map(change).collect(),
            }),
            OrderOutcome::Insufficient {
                product,
                available,
                requested,
            } => place::Outcome::InsufficientStock(pb::InsufficientStock {
                product,
                available,
                requested,
            }),
            OrderOutcome::Cancelled => place::Outcome::Cancelled(pb::OrderCancelled {}),
        };
        Ok(reply(pb::PlaceOrderResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&request.store));
        let order_id = f.take("order_id", Id::parse(&request.order_id));
        let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
        let (store, order_id, request_id) = f.finish(|| Some((store?, order_id?, request_id?)))?;
        let replied = self
            .cx
            .cancel_order(&store, &order_id, request_id.as_ref(), deadline)
            .await?;
        let outcome = match replied.outcome {
            CancelOutcome::Cancelled(changes) => cancel::Outcome::Cancelled(cancel::Cancelled {
                changes: changes.into_iter().map(change).collect(),
            }),
            CancelOutcome::NotFound => cancel::Outcome::NotFound(cancel::NotFound {}),
            CancelOutcome::AlreadyCancelled => {
                cancel::Outcome::AlreadyCancelled(cancel::AlreadyCancelled {})
            }
        };
        Ok(reply(pb::CancelOrderResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }

    async fn list_movements(
        &self,
        request: Request<pb::ListMovementsRequest>,
    ) -> Result<Response<pb::ListMovementsResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&request.store));
        let product = f.take("product", Id::parse_optional(&request.product));
        let page_size = f.take("page_size", types::page_size(request.page_size));
        let page_token = f.take("page_token", types::page_token(&request.page_token));
        let query = f.finish(|| {
            Some(MovementsQuery {
                store: store?,
                product: product?,
                page_size: page_size?,
                page_token: page_token?,
            })
        })?;
        let page = self.cx.movements(&query, deadline).await?;
        Ok(reply(pb::ListMovementsResponse {
            movements: page.items.into_iter().map(movement).collect(),
            next_page_token: page.next_token.unwrap_or_default(),
        }))
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
                types::quantity(units, min),
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

fn movement(m: Movement) -> pb::Movement {
    let kind = match m.kind {
        MovementKind::Set => movement::Kind::Set,
        MovementKind::Restock => movement::Kind::Restock,
        MovementKind::Deduct => movement::Kind::Deduct,
        MovementKind::Cancel => movement::Kind::Cancel,
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
    }
}
