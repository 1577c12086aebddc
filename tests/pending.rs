//! Pending transfers (LedgerService's holds of money): held money is out
//! of reach of debits, transfers and other holds until it is posted,
//! voided or expires by Redis's clock; a hold ends exactly once; the sum of
//! posted balances never changes under transfers. Expiry is tested by
//! moving the service's view of Redis's clock (`--clock-skew-secs`).

use std::collections::HashMap;

use rmw::proto::v1::{
    CreditRequest, DebitRequest, Entry, FundsHoldState, GetBalancesRequest, GetFundsHoldRequest,
    HoldFundsRequest, ListEntriesRequest, PostHoldRequest, TransferRequest, VoidHoldRequest,
    debit_response as debit, entry::Kind, get_funds_hold_response as get,
    hold_funds_response as hold, ledger_service_client::LedgerServiceClient,
    post_hold_response as post, void_hold_response as void,
};
use tonic::{Code, transport::Channel};

use crate::{
    common::{Env, Service, assert_error, assert_invalid},
    holds::{later, ttl},
};

pub(crate) type Client = LedgerServiceClient<Channel>;

/// An entry's kind, amount, and both balances before and after.
type Line = (Kind, i64, (i64, i64), (i64, i64));

pub(crate) fn hold_request(
    hold_id: &str,
    from: &str,
    to: &str,
    amount: i64,
    ms: i64,
) -> HoldFundsRequest {
    HoldFundsRequest {
        book: "b1".into(),
        hold_id: hold_id.into(),
        from_account: from.into(),
        to_account: to.into(),
        amount,
        ttl: ttl(ms),
        reference: String::new(),
        description: String::new(),
        fence: None,
    }
}

async fn hold(
    client: &mut Client,
    id: &str,
    from: &str,
    to: &str,
    amount: i64,
    ms: i64,
) -> hold::Outcome {
    client
        .hold_funds(hold_request(id, from, to, amount, ms))
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

pub(crate) fn post_request(hold_id: &str, amount: i64) -> PostHoldRequest {
    PostHoldRequest {
        book: "b1".into(),
        hold_id: hold_id.into(),
        amount,
        reference: String::new(),
        description: String::new(),
        request_id: String::new(),
        fence: None,
    }
}

async fn post(client: &mut Client, hold_id: &str, amount: i64) -> post::Outcome {
    client
        .post_hold(post_request(hold_id, amount))
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

async fn void(client: &mut Client, hold_id: &str) -> void::Outcome {
    client
        .void_hold(VoidHoldRequest {
            book: "b1".into(),
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
        .get_funds_hold(GetFundsHoldRequest {
            book: "b1".into(),
            hold_id: hold_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

pub(crate) async fn credit(client: &mut Client, account: &str, amount: i64) {
    client
        .credit(CreditRequest {
            book: "b1".into(),
            account: account.into(),
            amount,
            reference: String::new(),
            description: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap();
}

/// `(posted, pending debits, pending credits, available)` per account.
pub(crate) async fn balances(client: &mut Client, accounts: &[&str]) -> Vec<(i64, i64, i64, i64)> {
    client
        .get_balances(GetBalancesRequest {
            book: "b1".into(),
            accounts: accounts.iter().map(|&a| a.into()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .balances
        .into_iter()
        .map(|b| (b.balance, b.pending_debits, b.pending_credits, b.available))
        .collect()
}

/// Every entry of book `b1`, oldest first.
pub(crate) async fn journal(client: &mut Client) -> Vec<Entry> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_entries(ListEntriesRequest {
                book: "b1".into(),
                account: String::new(),
                page_size: 1000,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(page.entries);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    all.reverse();
    all
}

fn count(journal: &[Entry], kind: Kind) -> usize {
    journal.iter().filter(|e| e.kind() == kind).count()
}

/// Hold, spend around it, post part of it: balances, outcomes and the
/// audit trail along the way.
#[tokio::test]
async fn a_pending_transfer_is_posted_in_part() {
    let env = Env::start().await;
    let mut c = env.service.ledger();
    credit(&mut c, "alice", 100).await;
    match hold(&mut c, "h1", "alice", "bob", 30, 60_000).await {
        hold::Outcome::Held(held) => assert_eq!(held.available, 70),
        other @ (hold::Outcome::InsufficientFunds(_) | hold::Outcome::Fenced(_)) => {
            panic!("{other:?}")
        }
    }
    assert_eq!(
        balances(&mut c, &["alice", "bob"]).await,
        [(100, 30, 0, 70), (0, 0, 30, 0)]
    );
    let debit = c
        .debit(DebitRequest {
            book: "b1".into(),
            account: "alice".into(),
            amount: 71,
            reference: String::new(),
            description: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    match debit.outcome.unwrap() {
        debit::Outcome::InsufficientFunds(short) => {
            assert_eq!((short.balance, short.requested), (70, 71));
        }
        other @ debit::Outcome::Posted(_) => panic!("{other:?}"),
    }
    match hold(&mut c, "h2", "alice", "carol", 71, 60_000).await {
        hold::Outcome::InsufficientFunds(short) => assert_eq!(short.balance, 70),
        other @ (hold::Outcome::Held(_) | hold::Outcome::Fenced(_)) => panic!("{other:?}"),
    }
    c.transfer(TransferRequest {
        book: "b1".into(),
        from_account: "alice".into(),
        to_account: "carol".into(),
        amount: 70,
        transfer_id: "t1".into(),
        reference: String::new(),
        description: String::new(),
    })
    .await
    .unwrap();
    match post(&mut c, "h1", 20).await {
        post::Outcome::Posted(p) => {
            assert_eq!(
                (p.amount, p.released, p.from_balance, p.to_balance),
                (20, 10, 10, 20)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        balances(&mut c, &["alice", "bob", "carol"]).await,
        [(10, 0, 0, 10), (20, 0, 0, 20), (70, 0, 0, 70)]
    );
    assert!(matches!(
        void(&mut c, "h1").await,
        void::Outcome::AlreadyPosted(_)
    ));
    assert!(matches!(
        post(&mut c, "h1", 0).await,
        post::Outcome::AlreadyPosted(_)
    ));
    match get_hold(&mut c, "h1").await {
        get::Outcome::Hold(h) => {
            assert_eq!(h.state(), FundsHoldState::Posted);
            assert_eq!((h.amount, h.posted), (30, 20));
            assert_eq!(
                (h.from_account.as_str(), h.to_account.as_str()),
                ("alice", "bob")
            );
        }
        other @ get::Outcome::NotFound(_) => panic!("{other:?}"),
    }
    let entries = journal(&mut c).await;
    let kinds: Vec<Line> = entries
        .iter()
        .filter(|e| e.request_id == "h1")
        .map(|e| {
            (
                e.kind(),
                e.amount,
                (e.from_balance_before, e.from_balance_after),
                (e.to_balance_before, e.to_balance_after),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (Kind::Hold, 30, (100, 100), (0, 0)),
            (Kind::Post, 20, (30, 10), (0, 20))
        ]
    );
}

/// Voiding releases everything; ending twice says how it ended; unknown
/// holds are not found; hold ids are idempotency keys.
#[tokio::test]
async fn void_releases_and_hold_ids_are_idempotency_keys() {
    let env = Env::start().await;
    let mut c = env.service.ledger();
    credit(&mut c, "alice", 50).await;
    let first = c
        .hold_funds(hold_request("h1", "alice", "bob", 50, 60_000))
        .await
        .unwrap()
        .into_inner();
    let again = c
        .hold_funds(hold_request("h1", "alice", "bob", 50, 60_000))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.replayed && again.replayed);
    assert_eq!(first.outcome, again.outcome);
    let status = c
        .hold_funds(hold_request("h1", "alice", "bob", 40, 60_000))
        .await
        .unwrap_err();
    assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
    assert_eq!(
        balances(&mut c, &["alice"]).await,
        [(50, 50, 0, 0)],
        "held once"
    );

    match void(&mut c, "h1").await {
        void::Outcome::Voided(v) => assert_eq!(v.amount, 50),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        balances(&mut c, &["alice", "bob"]).await,
        [(50, 0, 0, 50), (0, 0, 0, 0)]
    );
    assert!(matches!(
        void(&mut c, "h1").await,
        void::Outcome::AlreadyVoided(_)
    ));
    assert!(matches!(
        post(&mut c, "h1", 0).await,
        post::Outcome::AlreadyVoided(_)
    ));
    assert!(matches!(
        void(&mut c, "nope").await,
        void::Outcome::NotFound(_)
    ));
    assert!(matches!(
        post(&mut c, "nope", 0).await,
        post::Outcome::NotFound(_)
    ));
    assert!(matches!(
        get_hold(&mut c, "nope").await,
        get::Outcome::NotFound(_)
    ));

    hold(&mut c, "h2", "alice", "bob", 20, 60_000).await;
    let request = PostHoldRequest {
        request_id: "capture-1".into(),
        ..post_request("h2", 0)
    };
    let first = c.post_hold(request.clone()).await.unwrap().into_inner();
    let again = c.post_hold(request).await.unwrap().into_inner();
    assert!(!first.replayed && again.replayed);
    assert_eq!(first.outcome, again.outcome);
    assert_eq!(
        balances(&mut c, &["alice", "bob"]).await,
        [(30, 0, 0, 30), (20, 0, 0, 20)]
    );
    assert_eq!(count(&journal(&mut c).await, Kind::Post), 1, "posted once");
}

/// A due hold is not counted by reads, answers `expired` to a post and a
/// void, ends exactly once with a KIND_EXPIRE entry; the sweep ends one
/// nobody touches.
#[tokio::test]
async fn expired_pending_transfers_are_never_counted_and_end_once() {
    let env = Env::start().await;
    let mut now = env.service.ledger();
    credit(&mut now, "alice", 100).await;
    hold(&mut now, "h1", "alice", "bob", 40, 60_000).await;
    hold(&mut now, "h2", "alice", "bob", 10, 600_000).await;
    let later = later(&env, 120, &[]).await;
    let mut then = later.ledger();
    assert_eq!(
        balances(&mut then, &["alice", "bob"]).await,
        [(100, 10, 0, 90), (0, 0, 10, 0)]
    );
    assert_eq!(balances(&mut now, &["alice"]).await, [(100, 50, 0, 50)]);
    match get_hold(&mut then, "h1").await {
        get::Outcome::Hold(h) => {
            assert_eq!(h.state(), FundsHoldState::Expired);
            assert_eq!(h.ended_at, h.expires_at);
        }
        other @ get::Outcome::NotFound(_) => panic!("{other:?}"),
    }
    assert_eq!(
        count(&journal(&mut now).await, Kind::Expire),
        0,
        "reads wrote nothing"
    );
    assert!(matches!(
        post(&mut then, "h1", 0).await,
        post::Outcome::Expired(_)
    ));
    assert!(matches!(
        void(&mut now, "h1").await,
        void::Outcome::Expired(_)
    ));
    assert!(matches!(
        post(&mut then, "h1", 0).await,
        post::Outcome::Expired(_)
    ));
    let entries = journal(&mut now).await;
    assert_eq!(count(&entries, Kind::Expire), 1, "exactly once");
    assert_eq!(count(&entries, Kind::Post), 0);
    assert_eq!(balances(&mut now, &["alice"]).await, [(100, 10, 0, 90)]);

    // h2 ends by the sweep of a service to which it is due.
    let _sweeper = later_with_sweep(&env).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while count(&journal(&mut now).await, Kind::Expire) < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no sweep in 20s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        balances(&mut now, &["alice", "bob"]).await,
        [(100, 0, 0, 100), (0, 0, 0, 0)]
    );
}

async fn later_with_sweep(env: &Env) -> Service {
    later(env, 1200, &["--hold-sweep-interval", "20ms"]).await
}

/// Bad input is INVALID_ARGUMENT with the fields named, and writes nothing.
#[tokio::test]
async fn refuses_malformed_pending_transfers() {
    let env = Env::start().await;
    let mut c = env.service.ledger();
    credit(&mut c, "alice", 100).await;
    hold(&mut c, "h1", "alice", "bob", 30, 60_000).await;
    let before = env.snapshot().await;
    let cases: Vec<(HoldFundsRequest, &[&str])> = vec![
        (
            hold_request("h2", "alice", "alice", 1, 1000),
            &["to_account"],
        ),
        (hold_request("h2", "alice", "bob", 0, 1000), &["amount"]),
        (
            hold_request("h2", "alice", "bob", 1 << 53, 1000),
            &["amount"],
        ),
        (hold_request("h2", "alice", "bob", 1, 0), &["ttl"]),
        (hold_request("h2", "alice", "bob", 1, 86_400_001), &["ttl"]),
        (hold_request("", "alice", "bob", 1, 1000), &["hold_id"]),
        (hold_request("h2", "", "bob", 1, 1000), &["from_account"]),
    ];
    for (request, fields) in cases {
        let status = c.hold_funds(request).await.unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", fields);
    }
    for (amount, fields) in [(31, &["amount"][..]), (-1, &["amount"][..])] {
        let status = c.post_hold(post_request("h1", amount)).await.unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", fields);
    }
    assert_eq!(env.snapshot().await, before, "nothing written");
}

/// 64 callers hold, post (in part), void, transfer and let holds expire in
/// one book of three accounts with 100 each, while a reader checks every
/// moment it sees: the posted sum stays 300, available never below 0.
/// After, every hold ended exactly once, and each account's balance is
/// what its entries say. TTLs of 20–300 ms pass during the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pending_transfers_create_and_lose_no_money() {
    let env = Env::start().await;
    let mut c = env.service.ledger();
    let accounts = ["a", "b", "c"];
    for account in accounts {
        credit(&mut c, account, 100).await;
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let reader = {
        let mut c = c.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut reads = 0;
            while !stop.is_cancelled() {
                let all = balances(&mut c, &accounts).await;
                assert_eq!(all.iter().map(|b| b.0).sum::<i64>(), 300, "{all:?}");
                assert_eq!(
                    all.iter().map(|b| b.1).sum::<i64>(),
                    all.iter().map(|b| b.2).sum::<i64>()
                );
                for (posted, debits, _, available) in all {
                    assert!(available >= 0 && debits >= 0 && available == posted - debits);
                }
                reads += 1;
            }
            reads
        })
    };
    let workers: Vec<_> = (0..64u64)
        .map(|w| {
            let mut c = c.clone();
            tokio::spawn(async move {
                for i in 0..10u64 {
                    let id = format!("w{w}-{i}");
                    let from = ["a", "b", "c"][((w + i) % 3) as usize];
                    let to = ["a", "b", "c"][((w + i + 1) % 3) as usize];
                    let amount = 1 + ((w * 7 + i) % 9) as i64;
                    let pick = (w * 31 + i * 17) % 6;
                    if pick == 5 {
                        c.transfer(TransferRequest {
                            book: "b1".into(),
                            from_account: from.into(),
                            to_account: to.into(),
                            amount,
                            transfer_id: id,
                            reference: String::new(),
                            description: String::new(),
                        })
                        .await
                        .unwrap();
                        continue;
                    }
                    let ms = 20 + ((w * 7 + i * 13) % 280) as i64;
                    if !matches!(
                        hold(&mut c, &id, from, to, amount, ms).await,
                        hold::Outcome::Held(_)
                    ) {
                        continue;
                    }
                    match pick {
                        0 | 1 => {
                            post(&mut c, &id, 0).await;
                        }
                        2 => {
                            post(&mut c, &id, 1).await;
                        }
                        3 => {
                            void(&mut c, &id).await;
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
    // Touch the book until every hold has come due and ended.
    while balances(&mut c, &accounts).await.iter().any(|b| b.1 > 0) || active(&env).await > 0 {
        credit(&mut c, "a", 1).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let entries = journal(&mut c).await;
    let mut held = std::collections::HashSet::new();
    let mut ends: HashMap<&str, usize> = HashMap::new();
    let mut last: HashMap<&str, i64> = accounts.iter().map(|&a| (a, 0)).collect();
    for e in &entries {
        match e.kind() {
            Kind::Hold => {
                held.insert(e.request_id.as_str());
            }
            Kind::Post | Kind::Void | Kind::Expire => {
                *ends.entry(e.request_id.as_str()).or_default() += 1;
            }
            _ => {}
        }
        if !e.from_account.is_empty() {
            assert_eq!(
                e.from_balance_before,
                last[e.from_account.as_str()],
                "{e:?}"
            );
            last.insert(&e.from_account, e.from_balance_after);
        }
        if !e.to_account.is_empty() {
            assert_eq!(e.to_balance_before, last[e.to_account.as_str()], "{e:?}");
            last.insert(&e.to_account, e.to_balance_after);
        }
    }
    for id in &held {
        assert_eq!(ends.get(id), Some(&1), "hold {id} ends once");
    }
    assert_eq!(ends.len(), held.len());
    let now = balances(&mut c, &accounts).await;
    for (account, balance) in accounts.iter().zip(&now) {
        assert_eq!(balance.0, last[account], "{account}: the entries add up");
        assert_eq!((balance.1, balance.2), (0, 0));
    }
    assert!(count(&entries, Kind::Expire) > 0 && count(&entries, Kind::Post) > 0);
    assert!(count(&entries, Kind::Void) > 0);
}

/// Pending transfers not yet ended in book `b1`, from Redis.
pub(crate) async fn active(env: &Env) -> usize {
    let key = format!("{}:led:{{b1}}:holds", env.service.prefix);
    redis::cmd("ZCARD")
        .arg(key)
        .query_async(&mut env.conn().await)
        .await
        .unwrap()
}
