//! InventoryService: no overselling under concurrency, all-or-nothing
//! orders, replays and cancellations, movements, and the request rules.

use std::collections::HashMap;

use rmw::proto::v1::{
    CancelOrderRequest, DeductRequest, GetStockRequest, ListMovementsRequest, Movement, OrderItem,
    PlaceOrderRequest, RestockRequest, SetStockRequest, StockChange, StockLevel,
    cancel_order_response as cancel, deduct_response as deduct, movement::Kind,
    place_order_response as place, restock_response as restock,
};
use tonic::Code;

use crate::common::{Env, assert_error, assert_invalid};

// Request helpers for store `s1`, shared with `hardening.rs`.
pub(crate) fn level(product: &str, quantity: i64) -> StockLevel {
    StockLevel {
        product: product.into(),
        quantity,
        ..Default::default()
    }
}

pub(crate) fn item(product: &str, quantity: i64) -> OrderItem {
    OrderItem {
        product: product.into(),
        quantity,
    }
}

fn change(product: &str, before: i64, after: i64) -> StockChange {
    StockChange {
        product: product.into(),
        before,
        after,
    }
}

pub(crate) fn order(order_id: &str, items: Vec<OrderItem>) -> PlaceOrderRequest {
    PlaceOrderRequest {
        store: "s1".into(),
        order_id: order_id.into(),
        items,
    }
}

pub(crate) async fn set_stock(env: &Env, levels: Vec<StockLevel>) {
    env.service
        .inventory()
        .set_stock(SetStockRequest {
            store: "s1".into(),
            levels,
            request_id: String::new(),
        })
        .await
        .unwrap();
}

pub(crate) async fn stock(env: &Env, products: &[&str]) -> Vec<i64> {
    env.service
        .inventory()
        .get_stock(GetStockRequest {
            store: "s1".into(),
            products: products.iter().map(|&p| p.into()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .levels
        .into_iter()
        .map(|l| l.quantity)
        .collect()
}

/// 200 concurrent single-unit orders for a product with stock 100: exactly
/// 100 are placed and 100 refused, and the level ends at 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_oversells() {
    let env = Env::start().await;
    set_stock(&env, vec![level("widget", 100)]).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let mut inventory = env.service.inventory();
        tasks.push(tokio::spawn(async move {
            inventory
                .place_order(order(&format!("o{i}"), vec![item("widget", 1)]))
                .await
                .unwrap()
                .into_inner()
                .outcome
                .unwrap()
        }));
    }
    let (mut placed, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            place::Outcome::Placed(_) => placed += 1,
            place::Outcome::InsufficientStock(_) => refused += 1,
            place::Outcome::Cancelled(_) => panic!("no order was cancelled"),
        }
    }
    println!(
        "oversell test: 200 orders of 1 for stock 100: {placed} placed, {refused} refused, level now {}",
        stock(&env, &["widget"]).await[0]
    );
    assert_eq!((placed, refused), (100, 100));
    assert_eq!(stock(&env, &["widget"]).await, vec![0]);
}

/// 50 concurrent orders of 1–3 units across five products: each is all or
/// nothing, Σ placed units = initial − final per product, no level below 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_product_orders_are_all_or_nothing() {
    let env = Env::start().await;
    let products = ["p0", "p1", "p2", "p3", "p4"];
    let initial = [30, 25, 20, 15, 10];
    set_stock(
        &env,
        products
            .iter()
            .zip(initial)
            .map(|(p, q)| level(p, q))
            .collect(),
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..50_usize {
        let mut inventory = env.service.inventory();
        // Two to four products per order, 1–3 units each, deterministic.
        let items: Vec<OrderItem> = (0..2 + i % 3)
            .map(|k| {
                item(
                    products[(i + k * 2) % 5],
                    1 + i64::try_from((i + k) % 3).unwrap(),
                )
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            let outcome = inventory
                .place_order(order(&format!("m{i}"), items.clone()))
                .await
                .unwrap()
                .into_inner()
                .outcome
                .unwrap();
            (items, outcome)
        }));
    }
    let mut taken: HashMap<String, i64> = HashMap::new();
    let (mut placed, mut refused) = (0, 0);
    for task in tasks {
        let (items, outcome) = task.await.unwrap();
        match outcome {
            place::Outcome::Placed(placed_order) => {
                placed += 1;
                assert_eq!(placed_order.changes.len(), items.len());
                for (item, change) in items.iter().zip(&placed_order.changes) {
                    assert_eq!(change.product, item.product);
                    assert_eq!(change.before - change.after, item.quantity);
                    assert!(change.after >= 0);
                    *taken.entry(item.product.clone()).or_default() += item.quantity;
                }
            }
            place::Outcome::InsufficientStock(short) => {
                refused += 1;
                assert!(short.available < short.requested);
            }
            place::Outcome::Cancelled(_) => panic!("no order was cancelled"),
        }
    }
    let finals = stock(&env, &products).await;
    println!(
        "multi-product orders: {placed} placed, {refused} refused; final levels {finals:?} from {initial:?}"
    );
    for ((product, start), end) in products.iter().zip(initial).zip(&finals) {
        assert!(*end >= 0);
        assert_eq!(
            start - end,
            taken.get(*product).copied().unwrap_or(0),
            "{product}"
        );
    }
    assert!(
        placed > 0 && refused > 0,
        "the test should see both outcomes"
    );
}

/// An order that overdraws one of its products changes no level; it is
/// not remembered, so it can be placed once stock arrives.
#[tokio::test]
async fn an_overdrawing_order_changes_nothing() {
    let env = Env::start().await;
    set_stock(&env, vec![level("a", 5), level("b", 1)]).await;
    let before = env.snapshot().await;
    let mut inventory = env.service.inventory();
    let outcome = inventory
        .place_order(order("o1", vec![item("a", 2), item("b", 3)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        outcome.outcome,
        Some(place::Outcome::InsufficientStock(
            rmw::proto::v1::InsufficientStock {
                product: "b".into(),
                available: 1,
                requested: 3,
            }
        ))
    );
    assert_eq!(env.snapshot().await, before, "a refused order wrote");
    inventory
        .restock(RestockRequest {
            store: "s1".into(),
            product: "b".into(),
            quantity: 2,
            request_id: String::new(),
        })
        .await
        .unwrap();
    let outcome = inventory
        .place_order(order("o1", vec![item("a", 2), item("b", 3)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        outcome.outcome,
        Some(place::Outcome::Placed(place::Placed {
            changes: vec![change("a", 5, 3), change("b", 3, 0)],
        }))
    );
}

/// A repeated order returns the first reply marked replayed and takes
/// nothing; the same order id with other items is REQUEST_ID_REUSED.
/// Deduct is a one-item order: the same order through either RPC is one.
#[tokio::test]
async fn replays_take_nothing() {
    let env = Env::start().await;
    set_stock(&env, vec![level("a", 10)]).await;
    let mut inventory = env.service.inventory();
    let first = inventory
        .place_order(order("o1", vec![item("a", 4)]))
        .await
        .unwrap()
        .into_inner();
    let before = env.snapshot().await;
    let again = inventory
        .place_order(order("o1", vec![item("a", 4)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (again.outcome.clone(), again.replayed),
        (first.outcome, true)
    );
    let deduct = inventory
        .deduct(DeductRequest {
            store: "s1".into(),
            product: "a".into(),
            quantity: 4,
            order_id: "o1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (deduct.outcome, deduct.replayed),
        (
            Some(deduct::Outcome::Deducted(deduct::Deducted {
                change: Some(change("a", 10, 6)),
            })),
            true
        )
    );
    assert_eq!(env.snapshot().await, before, "a replay wrote");
    let status = inventory
        .place_order(order("o1", vec![item("a", 5)]))
        .await
        .unwrap_err();
    assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
    assert_eq!(stock(&env, &["a"]).await, vec![6]);
}

/// Cancelling restores exactly what the order took, once; unknown orders
/// are not_found; nothing is written by the refusals.
#[tokio::test]
async fn cancel_restores_once() {
    let env = Env::start().await;
    set_stock(&env, vec![level("a", 10), level("b", 10)]).await;
    let mut inventory = env.service.inventory();
    inventory
        .place_order(order("o1", vec![item("a", 3), item("b", 7)]))
        .await
        .unwrap();
    // Stock moves on meanwhile.
    inventory
        .place_order(order("o2", vec![item("a", 1)]))
        .await
        .unwrap();
    let cancel = |order_id: &str| CancelOrderRequest {
        store: "s1".into(),
        order_id: order_id.into(),
        request_id: String::new(),
    };
    let first = inventory
        .cancel_order(cancel("o1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.outcome,
        Some(cancel::Outcome::Cancelled(cancel::Cancelled {
            changes: vec![change("a", 6, 9), change("b", 3, 10)],
        }))
    );
    let before = env.snapshot().await;
    let second = inventory
        .cancel_order(cancel("o1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        second.outcome,
        Some(cancel::Outcome::AlreadyCancelled(
            cancel::AlreadyCancelled {}
        ))
    );
    let unknown = inventory
        .cancel_order(cancel("nope"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        unknown.outcome,
        Some(cancel::Outcome::NotFound(cancel::NotFound {}))
    );
    assert_eq!(env.snapshot().await, before);
    assert_eq!(stock(&env, &["a", "b"]).await, vec![9, 10]);

    // With a request id, a retried cancel replays instead of answering
    // already_cancelled.
    let with_id = CancelOrderRequest {
        request_id: "c-1".into(),
        ..cancel("o2")
    };
    let first = inventory
        .cancel_order(with_id.clone())
        .await
        .unwrap()
        .into_inner();
    let again = inventory.cancel_order(with_id).await.unwrap().into_inner();
    assert_eq!((again.outcome, again.replayed), (first.outcome, true));
    assert_eq!(stock(&env, &["a"]).await, vec![10]);
}

/// Restocking past 2^53−1 is refused, never rounded, and writes nothing;
/// levels at 2^53−1 are exact.
#[tokio::test]
async fn levels_are_exact_at_the_edge() {
    let env = Env::start().await;
    let max = (1_i64 << 53) - 1;
    set_stock(&env, vec![level("a", max - 1)]).await;
    let mut inventory = env.service.inventory();
    let restock = |quantity| RestockRequest {
        store: "s1".into(),
        product: "a".into(),
        quantity,
        request_id: String::new(),
    };
    let r = inventory.restock(restock(1)).await.unwrap().into_inner();
    assert_eq!(
        r.outcome,
        Some(restock::Outcome::Restocked(restock::Restocked {
            change: Some(change("a", max - 1, max)),
        }))
    );
    let before = env.snapshot().await;
    let status = inventory.restock(restock(1)).await.unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["quantity"]);
    assert_eq!(env.snapshot().await, before);
    let placed = inventory
        .place_order(order("big", vec![item("a", max)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        placed.outcome,
        Some(place::Outcome::Placed(place::Placed {
            changes: vec![change("a", max, 0)],
        }))
    );
}

/// Every change is a movement: newest first, paginated, per product too,
/// with kind, delta, before/after, order and Redis's time.
#[tokio::test]
async fn movements_are_listed_newest_first() {
    let env = Env::start().await;
    set_stock(&env, vec![level("a", 10), level("b", 5)]).await;
    let mut inventory = env.service.inventory();
    inventory
        .place_order(order("o1", vec![item("a", 2), item("b", 1)]))
        .await
        .unwrap();
    inventory
        .cancel_order(CancelOrderRequest {
            store: "s1".into(),
            order_id: "o1".into(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let list = |product: &str, page_size, page_token: String| ListMovementsRequest {
        store: "s1".into(),
        product: product.into(),
        page_size,
        page_token,
    };
    let mut all: Vec<Movement> = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = inventory
            .list_movements(list("", 2, token))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        all.extend(page.movements);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    let summary: Vec<(Kind, &str, i64, i64, i64, &str)> = all
        .iter()
        .map(|m| {
            (
                m.kind(),
                m.product.as_str(),
                m.delta,
                m.before,
                m.after,
                m.order_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (Kind::Cancel, "b", 1, 4, 5, "o1"),
            (Kind::Cancel, "a", 2, 8, 10, "o1"),
            (Kind::Deduct, "b", -1, 5, 4, "o1"),
            (Kind::Deduct, "a", -2, 10, 8, "o1"),
            (Kind::Set, "b", 5, 0, 5, ""),
            (Kind::Set, "a", 10, 0, 10, ""),
        ]
    );
    assert!(
        all.windows(2)
            .all(|w| w[0].id > w[1].id || w[0].id.len() > w[1].id.len())
    );
    assert!(
        all.iter()
            .all(|m| m.time.is_some_and(|t| t.seconds > 1_700_000_000))
    );

    let only_a = inventory
        .list_movements(list("a", 0, String::new()))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = only_a.movements.iter().map(|m| m.id.as_str()).collect();
    let want: Vec<&str> = all
        .iter()
        .filter(|m| m.product == "a")
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(ids, want, "a product's movements carry the store's ids");
    assert!(only_a.next_page_token.is_empty());
}

/// The request rules, each INVALID_ARGUMENT naming its fields, and none
/// writes anything.
#[tokio::test]
async fn refuses_malformed_requests() {
    let env = Env::start().await;
    let mut inventory = env.service.inventory();
    let before = env.snapshot().await;
    let too_many: Vec<OrderItem> = (0..101).map(|i| item(&format!("p{i}"), 1)).collect();
    let cases: Vec<(PlaceOrderRequest, &[&str])> = vec![
        (order("o", vec![]), &["items"]),
        (order("o", too_many), &["items"]),
        (
            order("o", vec![item("a", 1), item("a", 2)]),
            &["items[1].product"],
        ),
        (order("o", vec![item("a", 0)]), &["items[0].quantity"]),
        (order("o", vec![item("a", -1)]), &["items[0].quantity"]),
        (order("o", vec![item("a", 1 << 53)]), &["items[0].quantity"]),
        (order("o", vec![item("a b", 1)]), &["items[0].product"]),
        (order("", vec![item("a", 1)]), &["order_id"]),
        (
            PlaceOrderRequest {
                store: "{s}".into(),
                ..order("o", vec![item("a", 1)])
            },
            &["store"],
        ),
    ];
    for (request, fields) in cases {
        let status = inventory.place_order(request).await.unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", fields);
    }
    let status = inventory
        .set_stock(SetStockRequest {
            store: "s1".into(),
            levels: vec![level("a", -1), level("b", 0)],
            request_id: "bad id!".into(),
        })
        .await
        .unwrap_err();
    assert_invalid(
        &status,
        "INVALID_ARGUMENT",
        &["request_id", "levels[0].quantity"],
    );
    let status = inventory
        .deduct(DeductRequest {
            store: "s1".into(),
            product: "a".into(),
            quantity: 0,
            order_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["quantity", "order_id"]);
    let status = inventory
        .get_stock(GetStockRequest {
            store: "s1".into(),
            products: vec![],
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["products"]);
    let status = inventory
        .list_movements(ListMovementsRequest {
            store: "s1".into(),
            product: String::new(),
            page_size: 1001,
            page_token: "not-a-token".into(),
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["page_size", "page_token"]);
    assert_eq!(env.snapshot().await, before);
}
