//! Stock holds: held units are out of reach of orders until the hold is
//! committed, released or expires by Redis's clock; a hold ends exactly
//! once; nothing is oversold, lost or created under concurrency. Expiry is
//! tested by moving the service's view of Redis's clock
//! (`--clock-skew-secs`), never by sleeping the TTL out.

use std::collections::HashMap;

use rmw::proto::v1::{
    CancelOrderRequest, CommitHoldRequest, GetHoldRequest, GetStockRequest, HoldState,
    HoldStockRequest, ListHoldsRequest, ListMovementsRequest, Movement, OrderItem,
    PlaceOrderRequest, ReleaseHoldRequest, SetStockRequest, StockLevel,
    cancel_order_response as cancel, commit_hold_response as commit, get_hold_response as get,
    hold_stock_response as hold, inventory_service_client::InventoryServiceClient, movement::Kind,
    place_order_response as place, release_hold_response as release, set_stock_response as set,
};
use tonic::{Code, transport::Channel};

use crate::{
    common::{Env, Service, assert_error, assert_invalid},
    inventory::{item, level, order, set_stock},
};

pub(crate) type Client = InventoryServiceClient<Channel>;

#[allow(clippy::unnecessary_wraps)] // as the request's field has it
pub(crate) fn ttl(ms: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: ms / 1000,
        nanos: i32::try_from(ms % 1000).unwrap() * 1_000_000,
    })
}

pub(crate) fn hold_request(hold_id: &str, items: Vec<OrderItem>, ms: i64) -> HoldStockRequest {
    HoldStockRequest {
        store: "s1".into(),
        hold_id: hold_id.into(),
        items,
        ttl: ttl(ms),
        fence: None,
    }
}

async fn hold(client: &mut Client, hold_id: &str, items: Vec<OrderItem>, ms: i64) -> hold::Outcome {
    client
        .hold_stock(hold_request(hold_id, items, ms))
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

async fn commit(client: &mut Client, hold_id: &str, items: Vec<OrderItem>) -> commit::Outcome {
    client
        .commit_hold(CommitHoldRequest {
            store: "s1".into(),
            hold_id: hold_id.into(),
            items,
            request_id: String::new(),
            fence: None,
        })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

async fn release(client: &mut Client, hold_id: &str) -> release::Outcome {
    client
        .release_hold(ReleaseHoldRequest {
            store: "s1".into(),
            hold_id: hold_id.into(),
            request_id: String::new(),
            fence: None,
        })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

async fn get_hold(client: &mut Client, hold_id: &str) -> get::Outcome {
    client
        .get_hold(GetHoldRequest {
            store: "s1".into(),
            hold_id: hold_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

/// `(on hand, held, available)` of each product.
pub(crate) async fn levels(client: &mut Client, products: &[&str]) -> Vec<(i64, i64, i64)> {
    client
        .get_stock(GetStockRequest {
            store: "s1".into(),
            products: products.iter().map(|&p| p.into()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .levels
        .into_iter()
        .map(|l| (l.quantity, l.held, l.available))
        .collect()
}

/// Every movement of store `s1`, oldest first.
pub(crate) async fn journal(client: &mut Client) -> Vec<Movement> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_movements(ListMovementsRequest {
                store: "s1".into(),
                product: String::new(),
                page_size: 1000,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(page.movements);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    all.reverse();
    all
}

pub(crate) fn count(journal: &[Movement], kind: Kind) -> usize {
    journal.iter().filter(|m| m.kind() == kind).count()
}

/// A second service on the same Redis and keys whose clock runs `secs`
/// ahead of Redis's: to it, holds shorter than that have expired.
pub(crate) async fn later(env: &Env, secs: i64, extra: &[&str]) -> Service {
    let secs = secs.to_string();
    let mut args = vec![
        "--key-prefix",
        &env.service.prefix,
        "--clock-skew-secs",
        &secs,
    ];
    args.extend_from_slice(extra);
    Service::start_with(&env.redis.url(), &args)
        .await
        .ready()
        .await
}

fn held_levels(outcome: &hold::Outcome) -> Vec<(i64, i64, i64)> {
    match outcome {
        hold::Outcome::Held(held) => held
            .levels
            .iter()
            .map(|l| (l.quantity, l.held, l.available))
            .collect(),
        other @ (hold::Outcome::InsufficientStock(_) | hold::Outcome::Fenced(_)) => {
            panic!("not held: {other:?}")
        }
    }
}

/// Hold, order around it, commit part of it, cancel the order it became:
/// every level and outcome along the way.
#[tokio::test]
async fn a_hold_is_committed_in_part_and_cancelled_as_an_order() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    set_stock(&env, vec![level("a", 10), level("b", 5)]).await;

    let held = hold(&mut c, "h1", vec![item("a", 4), item("b", 5)], 60_000).await;
    assert_eq!(held_levels(&held), [(10, 4, 6), (5, 5, 0)]);
    assert_eq!(levels(&mut c, &["a", "b"]).await, [(10, 4, 6), (5, 5, 0)]);

    // Orders and holds take only what is available.
    let refused = c
        .place_order(order("o1", vec![item("a", 7)]))
        .await
        .unwrap();
    match refused.into_inner().outcome.unwrap() {
        place::Outcome::InsufficientStock(short) => {
            assert_eq!((short.available, short.requested), (6, 7));
        }
        other => panic!("{other:?}"),
    }
    match hold(&mut c, "h2", vec![item("a", 1), item("b", 1)], 60_000).await {
        hold::Outcome::InsufficientStock(short) => assert_eq!(short.product, "b"),
        other @ (hold::Outcome::Held(_) | hold::Outcome::Fenced(_)) => panic!("{other:?}"),
    }
    c.place_order(order("o2", vec![item("a", 6)]))
        .await
        .unwrap();
    assert_eq!(levels(&mut c, &["a"]).await, [(4, 4, 0)]);

    // A commit of 3 of a's 4 and none of b: the rest comes back.
    match commit(&mut c, "h1", vec![item("a", 3)]).await {
        commit::Outcome::Committed(done) => {
            let changes: Vec<_> = done
                .changes
                .iter()
                .map(|ch| (ch.product.as_str(), ch.before, ch.after))
                .collect();
            assert_eq!(changes, [("a", 4, 1), ("b", 5, 5)]);
            assert_eq!(done.released, [item("a", 1), item("b", 5)]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(levels(&mut c, &["a", "b"]).await, [(1, 0, 1), (5, 0, 5)]);
    assert!(matches!(
        commit(&mut c, "h1", vec![]).await,
        commit::Outcome::AlreadyCommitted(_)
    ));
    assert!(matches!(
        release(&mut c, "h1").await,
        release::Outcome::AlreadyCommitted(_)
    ));

    // The committed hold is the order h1, which CancelOrder undoes once.
    let cancelled = c
        .cancel_order(CancelOrderRequest {
            store: "s1".into(),
            order_id: "h1".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    match cancelled.outcome.unwrap() {
        cancel::Outcome::Cancelled(done) => {
            assert_eq!(done.changes.len(), 1, "only a was committed");
            assert_eq!((done.changes[0].before, done.changes[0].after), (1, 4));
        }
        other => panic!("{other:?}"),
    }
    match get_hold(&mut c, "h1").await {
        get::Outcome::Hold(h) => {
            assert_eq!(h.state(), HoldState::Cancelled);
            let lines: Vec<_> = h
                .lines
                .iter()
                .map(|l| (l.product.as_str(), l.quantity, l.committed))
                .collect();
            assert_eq!(lines, [("a", 4, 3), ("b", 5, 0)]);
            assert!(h.ended_at.is_some());
        }
        other @ get::Outcome::NotFound(_) => panic!("{other:?}"),
    }

    // The journal: hold, commit and cancel movements with held moving.
    let moves = journal(&mut c).await;
    let kinds: Vec<(Kind, &str, i64, i64, i64)> = moves
        .iter()
        .filter(|m| m.order_id == "h1")
        .map(|m| (m.kind(), m.product.as_str(), m.delta, m.held_delta, m.held))
        .collect();
    assert_eq!(
        kinds,
        [
            (Kind::Hold, "a", 0, 4, 4),
            (Kind::Hold, "b", 0, 5, 5),
            (Kind::Commit, "a", -3, -4, 0),
            (Kind::Commit, "b", 0, -5, 0),
            (Kind::Cancel, "a", 3, 0, 0),
        ]
    );
}

/// Releasing gives everything back; the hold then says it was released,
/// to a commit and a release alike; unknown holds are not found.
#[tokio::test]
async fn release_gives_back_and_ends_once() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    set_stock(&env, vec![level("a", 3)]).await;
    hold(&mut c, "h1", vec![item("a", 3)], 60_000).await;
    match release(&mut c, "h1").await {
        release::Outcome::Released(r) => assert_eq!(r.items, [item("a", 3)]),
        other => panic!("{other:?}"),
    }
    assert_eq!(levels(&mut c, &["a"]).await, [(3, 0, 3)]);
    assert!(matches!(
        release(&mut c, "h1").await,
        release::Outcome::AlreadyReleased(_)
    ));
    assert!(matches!(
        commit(&mut c, "h1", vec![]).await,
        commit::Outcome::AlreadyReleased(_)
    ));
    assert!(matches!(
        release(&mut c, "nope").await,
        release::Outcome::NotFound(_)
    ));
    assert!(matches!(
        commit(&mut c, "nope", vec![]).await,
        commit::Outcome::NotFound(_)
    ));
    assert!(matches!(
        get_hold(&mut c, "nope").await,
        get::Outcome::NotFound(_)
    ));
    // An order's id is not a hold.
    c.place_order(order("o1", vec![item("a", 1)]))
        .await
        .unwrap();
    assert!(matches!(
        get_hold(&mut c, "o1").await,
        get::Outcome::NotFound(_)
    ));
    assert!(matches!(
        release(&mut c, "o1").await,
        release::Outcome::NotFound(_)
    ));
}

/// Hold ids are idempotency keys, and share the order ids' namespace: a
/// repeat replays, other parameters or an order's id are ALREADY_EXISTS; a
/// commit retried with its request id replays its reply.
#[tokio::test]
async fn hold_ids_are_idempotency_keys() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    set_stock(&env, vec![level("a", 10)]).await;
    let first = c
        .hold_stock(hold_request("h1", vec![item("a", 2)], 60_000))
        .await
        .unwrap()
        .into_inner();
    let again = c
        .hold_stock(hold_request("h1", vec![item("a", 2)], 60_000))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.replayed && again.replayed);
    assert_eq!(first.outcome, again.outcome);
    assert_eq!(levels(&mut c, &["a"]).await, [(10, 2, 8)], "held once");

    for request in [
        hold_request("h1", vec![item("a", 3)], 60_000),
        hold_request("h1", vec![item("a", 2)], 30_000),
    ] {
        let status = c.hold_stock(request).await.unwrap_err();
        assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
    }
    let status = c
        .place_order(order("h1", vec![item("a", 2)]))
        .await
        .unwrap_err();
    assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
    c.place_order(order("o1", vec![item("a", 1)]))
        .await
        .unwrap();
    let status = c
        .hold_stock(hold_request("o1", vec![item("a", 1)], 60_000))
        .await
        .unwrap_err();
    assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");

    let request = CommitHoldRequest {
        store: "s1".into(),
        hold_id: "h1".into(),
        items: vec![],
        request_id: "pay-1".into(),
        fence: None,
    };
    let first = c.commit_hold(request.clone()).await.unwrap().into_inner();
    let again = c.commit_hold(request).await.unwrap().into_inner();
    assert!(!first.replayed && again.replayed);
    assert_eq!(first.outcome, again.outcome);
    assert!(matches!(first.outcome, Some(commit::Outcome::Committed(_))));
    assert_eq!(levels(&mut c, &["a"]).await, [(7, 0, 7)], "committed once");
}

/// A hold past its expiry by Redis's clock is not counted by reads,
/// answers `expired` to a commit and a release, ends exactly once with a
/// KIND_EXPIRE movement per product, and is not listed.
#[tokio::test]
async fn expired_holds_are_never_counted_and_end_once() {
    let env = Env::start().await;
    let mut now = env.service.inventory();
    set_stock(&env, vec![level("a", 5), level("b", 5)]).await;
    hold(&mut now, "h1", vec![item("a", 2), item("b", 1)], 60_000).await;
    hold(&mut now, "h2", vec![item("a", 1)], 600_000).await;
    // Two minutes later: h1 is due, h2 is not.
    let later = later(&env, 120, &[]).await;
    let mut then = later.inventory();

    assert_eq!(levels(&mut then, &["a", "b"]).await, [(5, 1, 4), (5, 0, 5)]);
    assert_eq!(levels(&mut now, &["a", "b"]).await, [(5, 3, 2), (5, 1, 4)]);
    match get_hold(&mut then, "h1").await {
        get::Outcome::Hold(h) => {
            assert_eq!(h.state(), HoldState::Expired);
            assert_eq!(h.ended_at, h.expires_at, "ended at its expiry");
        }
        other @ get::Outcome::NotFound(_) => panic!("{other:?}"),
    }
    let listed = |page: rmw::proto::v1::ListHoldsResponse| -> Vec<String> {
        page.holds.into_iter().map(|h| h.hold_id).collect()
    };
    let list = ListHoldsRequest {
        store: "s1".into(),
        page_size: 0,
        page_token: String::new(),
    };
    let page = then.list_holds(list.clone()).await.unwrap().into_inner();
    assert_eq!(listed(page), ["h2"]);
    let page = now.list_holds(list).await.unwrap().into_inner();
    assert_eq!(listed(page), ["h1", "h2"], "soonest expiry first");
    assert_eq!(
        count(&journal(&mut now).await, Kind::Expire),
        0,
        "reads wrote nothing"
    );

    // The commit finds it expired: it ends it and takes nothing.
    let expired_at = match commit(&mut then, "h1", vec![]).await {
        commit::Outcome::Expired(e) => e.expired_at.unwrap(),
        other => panic!("{other:?}"),
    };
    match get_hold(&mut now, "h1").await {
        get::Outcome::Hold(h) => {
            assert_eq!(h.state(), HoldState::Expired, "ended, for every clock");
            assert_eq!(h.ended_at, Some(expired_at));
        }
        other @ get::Outcome::NotFound(_) => panic!("{other:?}"),
    }
    assert!(matches!(
        release(&mut now, "h1").await,
        release::Outcome::Expired(_)
    ));
    assert!(matches!(
        commit(&mut then, "h1", vec![]).await,
        commit::Outcome::Expired(_)
    ));
    let moves = journal(&mut now).await;
    let expiries: Vec<(&str, i64, i64)> = moves
        .iter()
        .filter(|m| m.kind() == Kind::Expire)
        .map(|m| (m.product.as_str(), m.held_delta, m.held))
        .collect();
    assert_eq!(expiries, [("a", -2, 1), ("b", -1, 0)], "exactly once");
    assert_eq!(levels(&mut now, &["a", "b"]).await, [(5, 1, 4), (5, 0, 5)]);
    assert_eq!(count(&moves, Kind::Commit), 0);
}

/// More holds due at once than one call ends (32): the first write ends
/// 32 and still counts none of the rest; later writes end the others,
/// each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_due_holds_are_ended_a_few_at_a_time_and_never_counted() {
    let env = Env::start().await;
    let mut now = env.service.inventory();
    set_stock(&env, vec![level("a", 1000)]).await;
    for i in 0..100 {
        hold(&mut now, &format!("h{i}"), vec![item("a", 5)], 60_000).await;
    }
    assert_eq!(levels(&mut now, &["a"]).await, [(1000, 500, 500)]);
    let later = later(&env, 120, &[]).await;
    let mut then = later.inventory();

    // All 1000 are available to the later clock, though one call ends 32.
    let placed = then
        .place_order(order("big", vec![item("a", 1000)]))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(placed.outcome, Some(place::Outcome::Placed(_))));
    assert_eq!(count(&journal(&mut now).await, Kind::Expire), 32);
    assert_eq!(levels(&mut then, &["a"]).await, [(0, 0, 0)]);
    for i in 0..3 {
        set_stock_in(&mut then, &format!("r{i}"), 0).await;
    }
    let moves = journal(&mut now).await;
    assert_eq!(count(&moves, Kind::Expire), 100);
    let mut ended: Vec<&str> = moves
        .iter()
        .filter(|m| m.kind() == Kind::Expire)
        .map(|m| m.order_id.as_str())
        .collect();
    ended.sort_unstable();
    ended.dedup();
    assert_eq!(ended.len(), 100, "each hold ended once");
    assert_eq!(levels(&mut now, &["a"]).await, [(0, 0, 0)]);
}

/// SetStock of one product (the call is what matters: it touches the store).
pub(crate) async fn set_stock_in(
    client: &mut Client,
    request_id: &str,
    units: i64,
) -> set::Outcome {
    client
        .set_stock(SetStockRequest {
            store: "s1".into(),
            levels: vec![level("a", units)],
            request_id: request_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

/// A level may not be set below what holds hold: `below_held`, nothing
/// written; nor may a caller set `held` or `available`.
#[tokio::test]
async fn stock_is_never_set_below_what_is_held() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    set_stock(&env, vec![level("a", 5)]).await;
    hold(&mut c, "h1", vec![item("a", 3)], 60_000).await;
    let before = env.snapshot().await;
    match set_stock_in(&mut c, "", 2).await {
        set::Outcome::BelowHeld(b) => {
            assert_eq!((b.product.as_str(), b.held, b.requested), ("a", 3, 2));
        }
        other @ set::Outcome::Set(_) => panic!("{other:?}"),
    }
    assert_eq!(env.snapshot().await, before, "nothing written");
    let status = c
        .set_stock(SetStockRequest {
            store: "s1".into(),
            levels: vec![StockLevel {
                held: 1,
                ..level("a", 4)
            }],
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["levels[0].held"]);
    assert_eq!(env.snapshot().await, before, "nothing written");
    assert!(matches!(
        set_stock_in(&mut c, "", 3).await,
        set::Outcome::Set(_)
    ));
    assert_eq!(levels(&mut c, &["a"]).await, [(3, 3, 0)]);
}

/// The sweep ends due holds of a store nobody touches: the KIND_EXPIRE
/// movement appears, and even a clock to which the hold is not due yet
/// stops counting it.
#[tokio::test]
async fn the_sweep_ends_holds_nobody_touches() {
    let env = Env::start().await;
    let mut now = env.service.inventory();
    set_stock(&env, vec![level("a", 5)]).await;
    hold(&mut now, "h1", vec![item("a", 2)], 60_000).await;
    let _sweeper = later(&env, 120, &["--hold-sweep-interval", "20ms"]).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while count(&journal(&mut now).await, Kind::Expire) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no sweep in 20s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(levels(&mut now, &["a"]).await, [(5, 0, 5)]);
    match get_hold(&mut now, "h1").await {
        get::Outcome::Hold(h) => assert_eq!(h.state(), HoldState::Expired),
        other @ get::Outcome::NotFound(_) => panic!("{other:?}"),
    }
}

/// Active holds page by expiry, then id; a token resumes exactly after
/// the last hold of the page, ties included.
#[tokio::test]
async fn holds_page_by_expiry() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    set_stock(&env, vec![level("a", 100)]).await;
    for i in 0..7 {
        hold(
            &mut c,
            &format!("h{i}"),
            vec![item("a", 1)],
            60_000 + i64::from(i % 2) * 1000,
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .list_holds(ListHoldsRequest {
                store: "s1".into(),
                page_size: 2,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.holds.len() <= 2);
        seen.extend(page.holds.into_iter().map(|h| {
            assert_eq!(
                h.lines,
                [rmw::proto::v1::hold::Line {
                    product: "a".into(),
                    quantity: 1,
                    committed: 0
                }]
            );
            h.hold_id
        }));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 7, "each hold once: {seen:?}");
    let status = c
        .list_holds(ListHoldsRequest {
            store: "s1".into(),
            page_size: 2,
            page_token: "x".into(),
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["page_token"]);
}

/// Bad input is INVALID_ARGUMENT with the fields named, and writes nothing.
#[tokio::test]
async fn refuses_malformed_holds() {
    let env = Env::start_with(&[], &["--max-hold-ttl", "1h"]).await;
    let mut c = env.service.inventory();
    set_stock(&env, vec![level("a", 5)]).await;
    hold(&mut c, "h1", vec![item("a", 2)], 60_000).await;
    let before = env.snapshot().await;
    let with_ttl = |ttl| HoldStockRequest {
        ttl,
        ..hold_request("h2", vec![item("a", 1)], 0)
    };
    let cases: Vec<(HoldStockRequest, &[&str])> = vec![
        (with_ttl(None), &["ttl"]),
        (with_ttl(ttl(0)), &["ttl"]),
        (with_ttl(ttl(-5)), &["ttl"]),
        (with_ttl(ttl(3_600_001)), &["ttl"]),
        (
            with_ttl(Some(prost_types::Duration {
                seconds: 1,
                nanos: 500,
            })),
            &["ttl"],
        ),
        (hold_request("h2", vec![], 1000), &["items"]),
        (
            hold_request("h2", vec![item("a", 0)], 1000),
            &["items[0].quantity"],
        ),
        (
            hold_request("h2", vec![item("a", 1), item("a", 1)], 1000),
            &["items[1].product"],
        ),
        (
            hold_request("h2", vec![item("a", 1 << 53)], 1000),
            &["items[0].quantity"],
        ),
        (hold_request("", vec![item("a", 1)], 1000), &["hold_id"]),
        (
            HoldStockRequest {
                store: "{s}".into(),
                ..hold_request("h2", vec![item("a", 1)], 1000)
            },
            &["store"],
        ),
    ];
    for (request, fields) in cases {
        let status = c.hold_stock(request).await.unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", fields);
    }
    let commits: Vec<(Vec<OrderItem>, &[&str])> = vec![
        (vec![item("b", 1)], &["items"]),
        (vec![item("a", 3)], &["items"]),
        (vec![item("a", 0)], &["items[0].quantity"]),
    ];
    for (items, fields) in commits {
        let status = c
            .commit_hold(CommitHoldRequest {
                store: "s1".into(),
                hold_id: "h1".into(),
                items,
                request_id: String::new(),
                fence: None,
            })
            .await
            .unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", fields);
    }
    assert_eq!(env.snapshot().await, before, "nothing written");
}

/// 64 callers hold, commit (in part), release, order and let holds expire
/// on one store with 100 units, while a reader checks every moment it
/// sees: available never below 0, held never above on hand. After, the
/// journal adds up: each movement's level and held follow from the one
/// before, every hold ended exactly once, and the levels are the journal's
/// sums. Expiry here is real: TTLs of 20–300 ms pass during the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_holds_never_oversell_nor_lose_a_unit() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    set_stock(&env, vec![level("a", 100), level("b", 100)]).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let reader = {
        let mut c = c.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut reads = 0;
            while !stop.is_cancelled() {
                for (on_hand, held, available) in levels(&mut c, &["a", "b"]).await {
                    assert!(available >= 0 && held >= 0, "{on_hand} {held} {available}");
                    assert_eq!(on_hand, held + available);
                }
                reads += 1;
            }
            reads
        })
    };
    let workers: Vec<_> = (0..64)
        .map(|w| {
            let mut c = c.clone();
            tokio::spawn(async move {
                for i in 0..12u64 {
                    let id = format!("w{w}-{i}");
                    let pick = (w * 31 + i * 17) % 6;
                    let items = if pick % 2 == 0 {
                        vec![item("a", 1 + (w % 5) as i64)]
                    } else {
                        vec![item("a", 1), item("b", 1 + (i % 3) as i64)]
                    };
                    if pick == 5 {
                        c.place_order(order(&id, items)).await.unwrap();
                        continue;
                    }
                    let ms = 20 + ((w * 7 + i * 13) % 280) as i64;
                    let outcome = hold(&mut c, &id, items, ms).await;
                    if !matches!(outcome, hold::Outcome::Held(_)) {
                        continue;
                    }
                    match pick {
                        0 | 1 => {
                            commit(&mut c, &id, vec![]).await;
                        }
                        2 => {
                            commit(&mut c, &id, vec![item("a", 1)]).await;
                        }
                        3 => {
                            release(&mut c, &id).await;
                        }
                        _ => {} // left to expire
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    stop.cancel();
    assert!(reader.await.unwrap() > 0);

    // Let every hold come due (the longest lasts 300 ms), then touch the
    // store until none is left to end.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    while levels(&mut c, &["a", "b"])
        .await
        .iter()
        .any(|&(_, held, _)| held > 0)
        || count_active(&env).await > 0
    {
        let units = levels(&mut c, &["a"]).await[0].0;
        set_stock_in(&mut c, "", units).await;
    }

    let moves = journal(&mut c).await;
    let mut last: HashMap<&str, (i64, i64)> = HashMap::new();
    let mut ends: HashMap<&str, usize> = HashMap::new();
    let mut holds = std::collections::HashSet::new();
    for m in &moves {
        assert_eq!(m.after, m.before + m.delta, "{m:?}");
        assert!(m.after >= 0, "{m:?}");
        if let Some(&(level, held)) = last.get(m.product.as_str()) {
            assert_eq!(m.before, level, "levels chain: {m:?}");
            assert_eq!(m.held, held + m.held_delta, "held chains: {m:?}");
        }
        last.insert(&m.product, (m.after, m.held));
        match m.kind() {
            Kind::Hold => {
                holds.insert(m.order_id.as_str());
            }
            Kind::Commit | Kind::Release | Kind::Expire => {
                *ends.entry(m.order_id.as_str()).or_default() += 1;
            }
            _ => {}
        }
    }
    for id in &holds {
        let per_product = moves
            .iter()
            .filter(|m| m.kind() == Kind::Hold && m.order_id == *id)
            .count();
        assert_eq!(ends.get(id), Some(&per_product), "hold {id} ends once");
    }
    assert_eq!(ends.len(), holds.len());
    let now = levels(&mut c, &["a", "b"]).await;
    assert_eq!((now[0].0, now[0].1), (last["a"].0, 0));
    assert_eq!((now[1].0, now[1].1), (last["b"].0, 0));
    assert!(count(&moves, Kind::Expire) > 0, "some holds expired");
    assert!(count(&moves, Kind::Commit) > 0 && count(&moves, Kind::Release) > 0);
}

/// Holds not yet ended in store `s1`, from Redis.
pub(crate) async fn count_active(env: &Env) -> usize {
    let key = format!("{}:inv:{{s1}}:holds", env.service.prefix);
    redis::cmd("ZCARD")
        .arg(key)
        .query_async(&mut env.conn().await)
        .await
        .unwrap()
}

/// Holds survive a Redis restart with AOF, and still end once.
#[tokio::test]
async fn holds_survive_a_restart_with_aof() {
    let mut env = Env::start_with(&["--appendonly", "yes", "--appendfsync", "always"], &[]).await;
    let mut c = env.service.inventory();
    set_stock(&env, vec![level("a", 5)]).await;
    hold(&mut c, "h1", vec![item("a", 2)], 60_000).await;
    hold(&mut c, "h2", vec![item("a", 2)], 60_000).await;
    env.redis.restart().await.unwrap();
    let mut c = env.service.inventory();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let stock = loop {
        let read = c
            .get_stock(GetStockRequest {
                store: "s1".into(),
                products: vec!["a".into()],
            })
            .await;
        if let Ok(reply) = read {
            break reply.into_inner().levels;
        }
        assert!(tokio::time::Instant::now() < deadline, "Redis back in 20s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(stock[0].held, 4, "held across the restart");
    assert!(matches!(
        commit(&mut c, "h1", vec![]).await,
        commit::Outcome::Committed(_)
    ));
    let later = later(&env, 120, &[]).await;
    let mut then = later.inventory();
    assert!(matches!(
        release(&mut then, "h2").await,
        release::Outcome::Expired(_)
    ));
    assert_eq!(levels(&mut c, &["a"]).await, [(3, 0, 3)]);
}

/// On a cluster, where a script may reach only keys of its own slot: holds
/// in stores spread over the three primaries expire on touch (the due
/// holds' records and streams, which the script reaches undeclared, share
/// the store's slot) and by the sweep, whose index is sharded over other
/// slots; pending transfers in books spread the same way expire on touch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_expire_on_a_cluster() {
    let cluster = crate::common::cluster::Cluster::start().await;
    let url = cluster.nodes[0].url();
    let now = Service::start_with(&url, &["--redis-cluster"])
        .await
        .ready()
        .await;
    let later = Service::start_with(
        &url,
        &[
            "--redis-cluster",
            "--key-prefix",
            &now.prefix,
            "--clock-skew-secs",
            "120",
        ],
    )
    .await
    .ready()
    .await;
    let prefix = now.prefix.clone();
    let (now_channel, later_channel) = (now.channel.clone(), later.channel.clone());
    let (mut now, mut later) = (now.inventory(), later.inventory());
    let stores: Vec<String> = (0..6).map(|i| format!("store-{i}")).collect();
    let slots: std::collections::BTreeSet<u16> = stores
        .iter()
        .map(|s| rmw::redis::slot::slot(&format!("{{{s}}}")) / 5462)
        .collect();
    assert_eq!(slots.len(), 3, "the stores cover the three primaries");
    for store in &stores {
        now.set_stock(SetStockRequest {
            store: store.clone(),
            levels: vec![level("a", 3)],
            request_id: String::new(),
        })
        .await
        .unwrap();
        let held = now
            .hold_stock(HoldStockRequest {
                store: store.clone(),
                ..hold_request("h1", vec![item("a", 3)], 60_000)
            })
            .await
            .unwrap()
            .into_inner();
        assert!(matches!(held.outcome, Some(hold::Outcome::Held(_))));
    }
    let expiries = |client: &mut Client, store: &str| {
        let (mut client, store) = (client.clone(), store.to_owned());
        async move {
            let page = client
                .list_movements(ListMovementsRequest {
                    store,
                    product: String::new(),
                    page_size: 100,
                    page_token: String::new(),
                })
                .await
                .unwrap()
                .into_inner();
            count(&page.movements, Kind::Expire)
        }
    };
    // On touch: an order of every unit, which only the expiry frees.
    for store in &stores[..3] {
        let placed = later
            .place_order(PlaceOrderRequest {
                store: store.clone(),
                ..order("o1", vec![item("a", 3)])
            })
            .await
            .unwrap()
            .into_inner();
        assert!(matches!(placed.outcome, Some(place::Outcome::Placed(_))));
        assert_eq!(expiries(&mut now, store).await, 1, "{store}");
    }
    // Pending transfers in books spread the same way: a debit of all the
    // money, which only the expiry frees, ends the due hold on touch.
    let mut ledger_now =
        rmw::proto::v1::ledger_service_client::LedgerServiceClient::new(now_channel.clone());
    let mut ledger_later =
        rmw::proto::v1::ledger_service_client::LedgerServiceClient::new(later_channel.clone());
    for book in &stores[..3] {
        ledger_now
            .credit(rmw::proto::v1::CreditRequest {
                book: book.clone(),
                account: "a".into(),
                amount: 5,
                ..Default::default()
            })
            .await
            .unwrap();
        ledger_now
            .hold_funds(rmw::proto::v1::HoldFundsRequest {
                book: book.clone(),
                hold_id: "h1".into(),
                from_account: "a".into(),
                to_account: "b".into(),
                amount: 5,
                ttl: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        let debit = ledger_later
            .debit(rmw::proto::v1::DebitRequest {
                book: book.clone(),
                account: "a".into(),
                amount: 5,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            matches!(
                debit.outcome,
                Some(rmw::proto::v1::debit_response::Outcome::Posted(_))
            ),
            "{book}: {debit:?}"
        );
        let entries = ledger_now
            .list_entries(rmw::proto::v1::ListEntriesRequest {
                book: book.clone(),
                page_size: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
        let expired = entries
            .iter()
            .filter(|e| e.kind() == rmw::proto::v1::entry::Kind::Expire)
            .count();
        assert_eq!(expired, 1, "{book}");
    }
    // By the sweep: a service sweeping every 20 ms, to whose clock the
    // holds are due.
    let _sweeper = Service::start_with(
        &url,
        &[
            "--redis-cluster",
            "--key-prefix",
            &prefix,
            "--clock-skew-secs",
            "120",
            "--hold-sweep-interval",
            "20ms",
        ],
    )
    .await
    .ready()
    .await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    for store in &stores[3..] {
        while expiries(&mut now, store).await == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{store}: no sweep in 20s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(expiries(&mut now, store).await, 1, "{store}");
    }
}
