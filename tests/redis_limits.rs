//! Redis refusing work: out of memory, and busy in a long script.

use std::time::Duration;

use rmw::proto::v1::{
    CompareAndSwapRequest, CreditRequest, GetBalancesRequest, GetValueRequest, OrderItem,
    PlaceOrderRequest, SetStockRequest, StockLevel, TransferRequest, get_value_response as get,
};
use tokio::time::Instant;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_types::StatusExt;

use crate::common::{Env, assert_error};

fn create(key: &str) -> CompareAndSwapRequest {
    CompareAndSwapRequest {
        key: key.into(),
        expected: None,
        new_value: Some(b"v".to_vec()),
        request_id: String::new(),
        fence: None,
    }
}

/// Injected: `maxmemory 4mb` with `noeviction`, filled past the limit with
/// keys outside the service's prefix. Asserted: CompareAndSwap, Transfer
/// and PlaceOrder answer RESOURCE_EXHAUSTED and write nothing (the
/// scripts' `#!lua` shebang makes Redis refuse a writing script before it
/// runs); reads keep working; health stays SERVING.
#[tokio::test]
async fn out_of_memory_refuses_writes_and_serves_reads() {
    let env = Env::start_with(
        &["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"],
        &[],
    )
    .await;
    let service = &env.service;
    service
        .values()
        .compare_and_swap(create("before"))
        .await
        .unwrap();
    service
        .ledger()
        .credit(CreditRequest {
            book: "b".into(),
            account: "a".into(),
            amount: 100,
            reference: String::new(),
            description: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    service
        .inventory()
        .set_stock(SetStockRequest {
            store: "s".into(),
            levels: vec![StockLevel {
                product: "p".into(),
                quantity: 5,
                ..Default::default()
            }],
            request_id: String::new(),
        })
        .await
        .unwrap();
    let mut conn = env.conn().await;
    let filler = vec![b'x'; 64 * 1024];
    let mut filled = 0;
    loop {
        let set: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("filler:{filled}"))
            .arg(&filler)
            .query_async(&mut conn)
            .await;
        match set {
            Ok(()) => filled += 1,
            Err(error) if error.code() == Some("OOM") => break,
            Err(error) => panic!("{error}"),
        }
        assert!(filled < 1000, "maxmemory never reached");
    }
    let before = env.snapshot().await;
    let status = service
        .values()
        .compare_and_swap(create("new"))
        .await
        .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "REDIS_OUT_OF_MEMORY");
    let status = service
        .ledger()
        .transfer(TransferRequest {
            book: "b".into(),
            from_account: "a".into(),
            to_account: "c".into(),
            amount: 1,
            transfer_id: "t".into(),
            reference: String::new(),
            description: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    let status = service
        .inventory()
        .place_order(PlaceOrderRequest {
            store: "s".into(),
            order_id: "o".into(),
            items: vec![OrderItem {
                product: "p".into(),
                quantity: 1,
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(env.snapshot().await, before, "a refused write wrote");

    let value = service
        .values()
        .get_value(GetValueRequest {
            key: "before".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(value.outcome, Some(get::Outcome::Value(b"v".to_vec())));
    let balances = service
        .ledger()
        .get_balances(GetBalancesRequest {
            book: "b".into(),
            accounts: vec!["a".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(balances.balances[0].balance, 100);
    assert_eq!(service.health("").await.unwrap(), ServingStatus::Serving);
    println!(
        "out of memory: filled {filled} × 64 KiB; 3 writes refused RESOURCE_EXHAUSTED, nothing written; reads and health fine"
    );
}

/// Injected: a script spinning on another connection, past
/// `busy-reply-threshold 50`. Asserted: calls answer UNAVAILABLE (BUSY)
/// with RetryInfo, readiness turns NOT_SERVING; after `SCRIPT KILL` calls
/// succeed and readiness is SERVING again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_redis_is_unavailable_then_recovers() {
    let env = Env::start_with(&["--busy-reply-threshold", "50"], &[]).await;
    let mut spinner = env.conn().await;
    let spin = tokio::spawn(async move {
        redis::cmd("EVAL")
            .arg("local i = 0 while true do i = i + 1 end")
            .arg(0)
            .query_async::<redis::Value>(&mut spinner)
            .await
    });
    let mut probe = env.conn().await;
    let started = Instant::now();
    loop {
        let ping: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut probe).await;
        if ping.is_err_and(|e| e.code() == Some("BUSY")) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "redis never got busy"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = env
        .service
        .values()
        .compare_and_swap(create("k"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.get_error_details().retry_info().is_some());
    let down = env
        .service
        .wait_health("", ServingStatus::NotServing, Duration::from_secs(5))
        .await;
    let () = redis::cmd("SCRIPT")
        .arg("KILL")
        .query_async(&mut probe)
        .await
        .unwrap();
    let _ = spin.await;
    let back = env
        .service
        .wait_health("", ServingStatus::Serving, Duration::from_secs(5))
        .await;
    env.service
        .values()
        .compare_and_swap(create("k"))
        .await
        .unwrap();
    println!(
        "BUSY: calls UNAVAILABLE with RetryInfo; NOT_SERVING after {down:?}; SERVING {back:?} after SCRIPT KILL"
    );
}
