//! Regression tests for the defects found by trying the service as an
//! attacker and a careless operator would (issue "hardening"), one test per
//! defect, each failing on the code before its fix. The classes they stand
//! for (settings, page tokens, numeric edges, decode failures) are also
//! fuzzed in `fuzz.rs`.

use std::{process::Stdio, time::Duration};

use prost::bytes::{Buf, BufMut};
use rmw::{
    proto::v1::{
        self as pb, cancel_order_response as cancel, compare_and_swap_response as cas,
        deduct_response as deduct, place_order_response as place,
    },
    redis::Script,
};
use tokio::time::Instant;
use tonic::{
    Code, Request, Status,
    codec::{DecodeBuf, Decoder, EncodeBuf, Encoder},
    codegen::http::uri::PathAndQuery,
};

use crate::{
    common::{self, Env, assert_error, assert_invalid},
    inventory::{item, level, order, set_stock, stock},
};

async fn cancel_order(env: &Env, order_id: &str) -> cancel::Outcome {
    env.service
        .inventory()
        .cancel_order(pb::CancelOrderRequest {
            store: "s1".into(),
            order_id: order_id.into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

/// #1: a retried PlaceOrder (or Deduct) after CancelOrder replays a typed
/// `cancelled` outcome — not the first `placed` reply, which would tell a
/// client whose first reply was lost that it holds stock it does not — and
/// takes nothing. The same order id with other items is still refused.
#[tokio::test]
async fn a_retried_order_after_cancel_says_cancelled() {
    let env = Env::start().await;
    set_stock(&env, vec![level("w", 10)]).await;
    let mut inventory = env.service.inventory();
    let first = inventory
        .place_order(order("o1", vec![item("w", 3)]))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(first.outcome, Some(place::Outcome::Placed(_))));
    assert!(matches!(
        cancel_order(&env, "o1").await,
        cancel::Outcome::Cancelled(_)
    ));
    assert_eq!(stock(&env, &["w"]).await, [10]);

    let retry = inventory
        .place_order(order("o1", vec![item("w", 3)]))
        .await
        .unwrap()
        .into_inner();
    assert!(retry.replayed, "{retry:?}");
    assert_eq!(
        retry.outcome,
        Some(place::Outcome::Cancelled(pb::OrderCancelled {}))
    );
    assert_eq!(stock(&env, &["w"]).await, [10], "a replay takes nothing");
    let other = inventory
        .place_order(order("o1", vec![item("w", 4)]))
        .await
        .unwrap_err();
    assert_error(&other, Code::AlreadyExists, "REQUEST_ID_REUSED");

    // Deduct is an order of one item: the same holds.
    let deduct_request = pb::DeductRequest {
        store: "s1".into(),
        product: "w".into(),
        quantity: 2,
        order_id: "o2".into(),
    };
    inventory.deduct(deduct_request.clone()).await.unwrap();
    cancel_order(&env, "o2").await;
    let retry = inventory.deduct(deduct_request).await.unwrap().into_inner();
    assert!(retry.replayed);
    assert_eq!(
        retry.outcome,
        Some(deduct::Outcome::Cancelled(pb::OrderCancelled {}))
    );
    assert_eq!(stock(&env, &["w"]).await, [10]);
}

/// Runs the built binary with `args` until it exits (it must, within 10
/// s); returns its exit code and what it wrote to stderr.
fn refused_at_start(args: &[&str]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rmw"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--redis-url",
            "redis://127.0.0.1:1",
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return (status.code(), stderr);
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("rmw {args:?} started instead of refusing its configuration");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// #2, #3, #4, #9: settings that would nest key prefixes, that Redis would
/// refuse in the middle of a script, that turn idempotency off, or that
/// pass Lua's `unpack` limit make the binary exit at start-up with a
/// message naming the flag; `--help` states the bounds.
#[test]
fn out_of_range_settings_are_refused_at_start_up() {
    for args in [
        &["--key-prefix", "rmw:val"][..],
        &["--ledger-retention", "18446744073709551615"],
        &["--idempotency-ttl", "1000000000y"],
        &["--idempotency-ttl", "0s"],
        &["--max-items", "8000"],
        &["--max-timeout", "10s", "--default-timeout", "20s"],
    ] {
        let (code, stderr) = refused_at_start(args);
        assert_ne!(code, Some(0), "{args:?} was accepted");
        let flag = args.iter().rev().find(|a| a.starts_with("--")).unwrap();
        let named = stderr.contains(flag) || stderr.contains(&args[0][2..]);
        assert!(named, "{args:?}: {stderr}");
    }
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_rmw"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for bound in ["1s to 3650d", "1 to 2^53-1", "1 to 1000", "1ms to 1h"] {
        assert!(help.contains(bound), "--help does not say {bound:?}");
    }
}

/// #3: every writing script checks the TTL and the stream length the
/// service hands it before its first write. Each is sent an out-of-range
/// setting directly (as a service with unchecked settings would): Redis
/// answers an error and holds no key afterwards.
#[tokio::test]
async fn scripts_check_their_settings_before_writing() {
    let server = common::redis(&[]).await;
    let mut conn = common::connect(&server.url()).await;
    let mut checked = 0;
    for script in Script::ALL {
        let source = script.source();
        if !source.contains("rmw_replay(KEYS[1]") {
            continue; // reads only
        }
        // The prelude defines rmw_xadd; a script (or a library it uses)
        // that calls it appends to a stream.
        let streams = source.matches("rmw_xadd(").count() > 1;
        assert_eq!(
            streams,
            source.contains("\nlocal trim = rmw_retention()")
                || source.contains(", rmw_retention(), ARGV[4]"),
            "{}: a script that appends to a stream must check its retention",
            script.name()
        );
        let mut cases = vec![("idempotency TTL", "1000000000000000000000", "100")];
        if streams {
            cases.push(("stream retention", "60000", "n:18446744073709551615"));
            cases.push(("stream retention", "60000", "age:315360000001"));
            cases.push(("stream retention", "60000", "10"));
        }
        for (setting, ttl, max_len) in cases {
            // Keys and arguments enough for any script to reach its first
            // write, were the setting not checked.
            let keys: Vec<String> = (0..6).map(|i| format!("t:{{x}}:{i}")).collect();
            let error = redis::cmd("EVAL")
                .arg(source)
                .arg(keys.len())
                .arg(&keys)
                .arg("fp")
                .arg(ttl)
                .arg(max_len)
                .arg(&["1", "1", "1", "1", "1", "1"])
                .query_async::<redis::Value>(&mut conn)
                .await
                .expect_err(script.name());
            assert!(
                error.to_string().contains(&format!("setting {setting}")),
                "{}: {error}",
                script.name()
            );
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg("*")
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(keys.is_empty(), "{} wrote {keys:?}", script.name());
            checked += 1;
        }
    }
    println!("settings checked before the first write: {checked} script/setting pairs");
    assert!(checked >= 20, "{checked}");
}

/// #5: a tagged key whose tag spells out an untagged key's data key
/// (`x{<p>:val:abc}` and `abc`) does not share its idempotency record: the
/// same request id on both is two requests, not a reuse.
#[tokio::test]
async fn a_tag_cannot_borrow_another_keys_idempotency_record() {
    let env = Env::start().await;
    let tagged = format!("x{{{}:val:abc}}", env.service.prefix);
    let mut values = env.service.values();
    let request = |key: &str| pb::CompareAndSwapRequest {
        key: key.into(),
        expected: None,
        new_value: Some(b"v".to_vec()),
        request_id: "r-1".into(),
        fence: None,
    };
    let first = values.compare_and_swap(request(&tagged)).await.unwrap();
    assert!(matches!(
        first.into_inner().outcome,
        Some(cas::Outcome::Swapped(_))
    ));
    let second = values
        .compare_and_swap(request("abc"))
        .await
        .expect("a request of its own, not REQUEST_ID_REUSED")
        .into_inner();
    assert!(!second.replayed);
    assert!(matches!(second.outcome, Some(cas::Outcome::Swapped(_))));
}

/// #6: the extreme UTC offsets, `i32::MIN` among them (whose `abs`
/// overflowed), are INVALID_ARGUMENT in ConsumeQuota and GetQuota, and
/// nothing is written.
#[tokio::test]
async fn extreme_utc_offsets_are_invalid() {
    let env = Env::start().await;
    let mut counters = env.service.counters();
    for minutes in [i32::MIN, i32::MIN + 1, -841, 841, i32::MAX] {
        let status = counters
            .consume_quota(pb::ConsumeQuotaRequest {
                name: "q".into(),
                amount: 1,
                daily_limit: 10,
                utc_offset_minutes: minutes,
                request_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", &["utc_offset_minutes"]);
        let status = counters
            .get_quota(pb::GetQuotaRequest {
                name: "q".into(),
                daily_limit: 10,
                utc_offset_minutes: minutes,
            })
            .await
            .unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", &["utc_offset_minutes"]);
    }
    assert!(env.snapshot().await.is_empty());
}

/// #7: page tokens the service never issued: `0-0` is an empty last page,
/// a malformed one (`+1-0`, an overflowing part) INVALID_ARGUMENT — never
/// INTERNAL — in ListMovements and ListEntries.
#[tokio::test]
async fn foreign_page_tokens_are_an_empty_page_or_invalid() {
    let env = Env::start().await;
    set_stock(&env, vec![level("w", 5)]).await;
    let mut inventory = env.service.inventory();
    let mut ledger = env.service.ledger();
    ledger
        .credit(pb::CreditRequest {
            book: "b".into(),
            account: "a".into(),
            amount: 5,
            reference: String::new(),
            description: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let movements = |token: &str, product: &str| pb::ListMovementsRequest {
        store: "s1".into(),
        product: product.into(),
        page_size: 0,
        page_token: token.into(),
    };
    let entries = |token: &str, account: &str| pb::ListEntriesRequest {
        book: "b".into(),
        account: account.into(),
        page_size: 0,
        page_token: token.into(),
    };
    for filter in ["", "w"] {
        let page = inventory
            .list_movements(movements("0-0", filter))
            .await
            .unwrap()
            .into_inner();
        assert!(page.movements.is_empty() && page.next_page_token.is_empty());
        let account = if filter.is_empty() { "" } else { "a" };
        let page = ledger
            .list_entries(entries("0-0", account))
            .await
            .unwrap()
            .into_inner();
        assert!(page.entries.is_empty() && page.next_page_token.is_empty());
    }
    // The newest entry is found again after a token just past it.
    let page = inventory
        .list_movements(movements("18446744073709551615-18446744073709551615", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.movements.len(), 1);
    for bad in ["+1-0", "1-+0", "18446744073709551616-0", "0x1-0", "1"] {
        let status = inventory
            .list_movements(movements(bad, ""))
            .await
            .unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", &["page_token"]);
        let status = ledger.list_entries(entries(bad, "")).await.unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", &["page_token"]);
    }
}

/// #8: ReturnIds echoes every id exactly as sent — not as Lua's doubles
/// round them — and refuses ids above 2^53-1, which no sequence issues,
/// writing nothing.
#[tokio::test]
async fn returned_ids_are_echoed_exactly_and_bounded() {
    let env = Env::start().await;
    let mut sequences = env.service.sequences();
    sequences
        .next_ids(pb::NextIdsRequest {
            name: "s".into(),
            count: 3,
            request_id: String::new(),
        })
        .await
        .unwrap();
    let max = (1_i64 << 53) - 1;
    let returned = sequences
        .return_ids(pb::ReturnIdsRequest {
            name: "s".into(),
            ids: vec![i64::MIN, -9_007_199_254_740_993, 0, 2, max],
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(pb::return_ids_response::Outcome::Returned(returned)) = returned.outcome else {
        panic!("{returned:?}");
    };
    assert_eq!(returned.accepted, vec![2]);
    let rejected: Vec<i64> = returned.rejected.iter().map(|r| r.id).collect();
    assert_eq!(rejected, vec![i64::MIN, -9_007_199_254_740_993, 0, max]);
    // Refused whole: id 1, valid and issued, is not given back either.
    let before = env.snapshot().await;
    for too_big in [i64::MAX, max + 2, max + 1] {
        let status = sequences
            .return_ids(pb::ReturnIdsRequest {
                name: "s".into(),
                ids: vec![1, too_big],
                request_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", &["ids[1]"]);
    }
    assert_eq!(env.snapshot().await, before, "a refused ReturnIds wrote");
}

/// #9: at the largest `--max-items` the start-up check accepts, requests of
/// that many items work in every script that `unpack`s them (SetStock,
/// GetStock, PlaceOrder, CancelOrder, GetBalances).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_item_limit_works_in_every_script() {
    let n = rmw::config::MAX_ITEMS as usize;
    let env = Env::start_with(&[], &["--max-items", &n.to_string()]).await;
    let products: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    set_stock(&env, products.iter().map(|p| level(p, 2)).collect()).await;
    let placed = env
        .service
        .inventory()
        .place_order(order("big", products.iter().map(|p| item(p, 1)).collect()))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(placed.outcome, Some(place::Outcome::Placed(p)) if p.changes.len() == n));
    let names: Vec<&str> = products.iter().map(String::as_str).collect();
    assert_eq!(stock(&env, &names).await, vec![1; n]);
    assert!(matches!(
        cancel_order(&env, "big").await,
        cancel::Outcome::Cancelled(c) if c.changes.len() == n
    ));
    let balances = env
        .service
        .ledger()
        .get_balances(pb::GetBalancesRequest {
            book: "b".into(),
            accounts: products,
        })
        .await
        .unwrap()
        .into_inner()
        .balances;
    assert_eq!(balances.len(), n);
}

/// Sends raw bytes as a request and reads raw bytes back.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// Sends `bytes` as the request message of `method` (`Service/Rpc`).
pub async fn send_raw(env: &Env, method: &str, bytes: Vec<u8>) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(env.service.channel.clone());
    grpc.ready().await.unwrap();
    let path = PathAndQuery::try_from(format!("/rmw.v1.{method}")).unwrap();
    grpc.unary(Request::new(bytes), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// #10: a request that does not decode — a string field holding invalid
/// UTF-8, a nested one, a truncated message — is INVALID_ARGUMENT with a
/// BadRequest (naming the field where it is known), never INTERNAL.
#[tokio::test]
async fn malformed_protobuf_is_invalid_argument() {
    let env = Env::start().await;
    // PlaceOrderRequest.store (field 1) = bytes that are not UTF-8.
    let status = send_raw(
        &env,
        "InventoryService/PlaceOrder",
        vec![0x0a, 2, 0xff, 0xfe],
    )
    .await
    .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["store"]);
    // PlaceOrderRequest.items[0].product = 0xff.
    let status = send_raw(
        &env,
        "InventoryService/PlaceOrder",
        vec![0x1a, 3, 0x0a, 1, 0xff],
    )
    .await
    .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["items.product"]);
    // A length that runs past the end of the message.
    let status = send_raw(&env, "ValuesService/CompareAndSwap", vec![0x0a, 5, b'a'])
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["key"]);
    // Wire type 7 does not exist: no field can be named.
    let status = send_raw(&env, "ValuesService/CompareAndSwap", vec![0x0f])
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &[""]);
    assert!(env.snapshot().await.is_empty());
}

/// Deadlines: a caller's `grpc-timeout` of an hour is capped at
/// `--max-timeout`. Injected: every Redis client paused for 3 s (`CLIENT
/// PAUSE`). Asserted: the call answers DEADLINE_EXCEEDED (after the 300 ms
/// cap), not OK once the pause ends.
#[tokio::test]
async fn a_callers_deadline_is_capped() {
    let env = Env::start_with(
        &[],
        &["--max-timeout", "300ms", "--default-timeout", "300ms"],
    )
    .await;
    let mut values = env.service.values();
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(3000)
        .arg("ALL")
        .query_async(&mut env.conn().await)
        .await
        .unwrap();
    let mut request = Request::new(pb::CompareAndSwapRequest {
        key: "k".into(),
        expected: None,
        new_value: Some(b"v".to_vec()),
        request_id: String::new(),
        fence: None,
    });
    request.set_timeout(Duration::from_secs(3600));
    let started = Instant::now();
    let status = values.compare_and_swap(request).await.unwrap_err();
    println!(
        "grpc-timeout 1h, --max-timeout 300ms, Redis paused 3s: {:?} after {:?}",
        status.code(),
        started.elapsed()
    );
    assert_error(&status, Code::DeadlineExceeded, "DEADLINE_EXCEEDED");
}
