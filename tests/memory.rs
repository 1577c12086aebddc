//! What rmw's data costs in Redis memory: bytes per product, account,
//! order, idempotency record and stream entry, measured as the growth of
//! Redis's `used_memory` over a thousand of each (docs/RELIABILITY.md,
//! "What the data costs").

use rmw::proto::v1::{
    CompareAndSwapRequest, CreditRequest, DeleteRecordRequest, OrderItem, PlaceOrderRequest,
    PutRecordRequest, RestockRequest, SetStockRequest, StockLevel,
};

use crate::common::Env;

/// Items of each kind measured.
const N: usize = 1000;

async fn used_memory(env: &Env) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut env.conn().await)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Bytes per item of what `grow` adds, `N` items at a time.
async fn per_item<F: Future<Output = ()>>(env: &Env, grow: F) -> i64 {
    let before = used_memory(env).await;
    grow.await;
    (used_memory(env).await - before) / i64::try_from(N).unwrap()
}

fn credit(account: String, request_id: String) -> CreditRequest {
    CreditRequest {
        book: "b".into(),
        account,
        amount: 1,
        reference: String::new(),
        description: String::new(),
        request_id,
    }
}

/// Injected: a thousand of each: new products (SetStock, 100 per call),
/// new accounts (a credit each), one-item orders, compare-and-swaps with a
/// request id against the same without, and restocks of one product.
/// Asserted: each costs something and stays below a few kilobytes; the
/// figures are printed for the table in docs/RELIABILITY.md.
#[tokio::test]
async fn what_the_data_costs() {
    let env = Env::start_with(&[], &["--max-items", "100"]).await;
    let (mut inventory, mut ledger, mut values) = (
        env.service.inventory(),
        env.service.ledger(),
        env.service.values(),
    );
    let product = per_item(&env, async {
        for chunk in 0..N / 100 {
            let levels = (0..100)
                .map(|i| StockLevel {
                    product: format!("p{}", chunk * 100 + i),
                    quantity: 1_000_000,
                    ..Default::default()
                })
                .collect();
            inventory
                .set_stock(SetStockRequest {
                    store: "s".into(),
                    levels,
                    request_id: String::new(),
                })
                .await
                .unwrap();
        }
    })
    .await;
    let entry = per_item(&env, async {
        for _ in 0..N {
            inventory
                .restock(RestockRequest {
                    store: "s".into(),
                    product: "p0".into(),
                    quantity: 1,
                    request_id: String::new(),
                })
                .await
                .unwrap();
        }
    })
    .await;
    let order = per_item(&env, async {
        for i in 0..N {
            inventory
                .place_order(PlaceOrderRequest {
                    store: "s".into(),
                    order_id: format!("o{i}"),
                    items: vec![OrderItem {
                        product: format!("p{i}"),
                        quantity: 1,
                    }],
                })
                .await
                .unwrap();
        }
    })
    .await;
    let account = per_item(&env, async {
        for i in 0..N {
            ledger
                .credit(credit(format!("a{i}"), String::new()))
                .await
                .unwrap();
        }
    })
    .await;
    let cas = |key: String, request_id: String| CompareAndSwapRequest {
        key,
        expected: None,
        new_value: Some(b"v".to_vec()),
        request_id,
        fence: None,
    };
    let plain = per_item(&env, async {
        for i in 0..N {
            values
                .compare_and_swap(cas(format!("x{i}"), String::new()))
                .await
                .unwrap();
        }
    })
    .await;
    let with_id = per_item(&env, async {
        for i in 0..N {
            values
                .compare_and_swap(cas(format!("y{i}"), format!("r{i}")))
                .await
                .unwrap();
        }
    })
    .await;
    let record = with_id - plain;
    let mut records = env.service.records();
    let before_records = used_memory(&env).await;
    let versioned = per_item(&env, async {
        for i in 0..N {
            records
                .put_record(PutRecordRequest {
                    key: format!("r{i}"),
                    expected_version: 0,
                    value: b"v".to_vec(),
                    request_id: String::new(),
                    fence: None,
                })
                .await
                .unwrap();
        }
    })
    .await;
    for i in 0..N {
        records
            .delete_record(DeleteRecordRequest {
                key: format!("r{i}"),
                expected_version: 1,
                request_id: String::new(),
                fence: None,
            })
            .await
            .unwrap();
    }
    let deleted = (used_memory(&env).await - before_records) / i64::try_from(N).unwrap();
    println!(
        "bytes each: record {versioned} (its hash and its revision), deleted record \
         {deleted} (the revision that keeps its numbering)"
    );
    println!(
        "bytes each: product {product} (stock level, movements stream, its first entry \
         in two streams), account {account} (balance, journal, a credit's entries), \
         order {order} (order record, movements entries), idempotency record {record}, \
         stream entry {entry} (a restock: one entry in each of two streams)"
    );
    for (what, bytes) in [
        ("product", product),
        ("account", account),
        ("order", order),
        ("idempotency record", record),
        ("stream entry", entry),
        ("record", versioned),
        ("deleted record", deleted),
    ] {
        assert!((1..8192).contains(&bytes), "{what}: {bytes} bytes");
    }
}
