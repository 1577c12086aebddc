//! LedgerService: conservation under concurrency, an audit trail that
//! replays to every balance, exactly-once transfers, exact edges.

use std::collections::{HashMap, HashSet};

use rand_like::Lcg;
use rmw::proto::v1::{
    CreditRequest, DebitRequest, Entry, GetBalancesRequest, InsufficientFunds, ListEntriesRequest,
    Posting, TransferRequest, credit_response as credit, debit_response as debit, entry::Kind,
    transfer_response as transfer,
};
use tonic::Code;

use crate::common::{Env, assert_error, assert_invalid};

/// A tiny deterministic generator: the test prints its seed, and the same
/// seed makes the same transfers.
mod rand_like {
    pub struct Lcg(pub u64);

    impl Lcg {
        pub fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(self.0 >> 33).unwrap() % n
        }
    }
}

const BOOK: &str = "b1";

fn credit(account: &str, amount: i64, request_id: &str) -> CreditRequest {
    CreditRequest {
        book: BOOK.into(),
        account: account.into(),
        amount,
        reference: "ref".into(),
        description: "top-up".into(),
        request_id: request_id.into(),
    }
}

fn transfer(from: &str, to: &str, amount: i64, transfer_id: &str) -> TransferRequest {
    TransferRequest {
        book: BOOK.into(),
        from_account: from.into(),
        to_account: to.into(),
        amount,
        transfer_id: transfer_id.into(),
        reference: String::new(),
        description: String::new(),
    }
}

async fn balances(env: &Env, accounts: &[String]) -> Vec<i64> {
    env.service
        .ledger()
        .get_balances(GetBalancesRequest {
            book: BOOK.into(),
            accounts: accounts.to_vec(),
        })
        .await
        .unwrap()
        .into_inner()
        .balances
        .into_iter()
        .map(|b| b.balance)
        .collect()
}

/// Every entry of the book, oldest first, through ListEntries' pages.
async fn all_entries(env: &Env, account: &str) -> Vec<Entry> {
    let mut ledger = env.service.ledger();
    let mut entries = Vec::new();
    let mut token = String::new();
    loop {
        let page = ledger
            .list_entries(ListEntriesRequest {
                book: BOOK.into(),
                account: account.into(),
                page_size: 1000,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    entries.reverse();
    entries
}

/// 32 concurrent callers make 5,000 random transfers among 20 accounts:
/// the total is conserved, no balance goes below 0, replaying the audit
/// trail from the start reproduces every balance, and every acknowledged
/// transfer appears in it exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_is_conserved_and_audited() {
    let env = Env::start().await;
    let accounts: Vec<String> = (0..20).map(|i| format!("acct-{i}")).collect();
    let mut ledger = env.service.ledger();
    for account in &accounts {
        ledger.credit(credit(account, 1_000, "")).await.unwrap();
    }
    let seed = 0x5eed_u64;
    let mut tasks = Vec::new();
    for caller in 0..32_u64 {
        let mut ledger = env.service.ledger();
        let accounts = accounts.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(seed ^ caller);
            let mut acked = Vec::new();
            let mut short = 0;
            let count = 5_000 / 32 + u64::from(caller < 5_000 % 32);
            for n in 0..count {
                let from = rng.below(20);
                let to = (from + 1 + rng.below(19)) % 20;
                let amount = 1 + i64::try_from(rng.below(300)).unwrap();
                let id = format!("t-{caller}-{n}");
                let request = transfer(&accounts[from], &accounts[to], amount, &id);
                match ledger
                    .transfer(request)
                    .await
                    .unwrap()
                    .into_inner()
                    .outcome
                    .unwrap()
                {
                    transfer::Outcome::Transferred(_) => acked.push(id),
                    transfer::Outcome::InsufficientFunds(_) => short += 1,
                }
            }
            (acked, short)
        }));
    }
    let mut acked = HashSet::new();
    let mut short = 0;
    for task in tasks {
        let (ids, s) = task.await.unwrap();
        acked.extend(ids);
        short += s;
    }
    let finals = balances(&env, &accounts).await;
    let total: i64 = finals.iter().sum();
    println!(
        "ledger conservation (seed {seed:#x}): 5000 transfers by 32 callers, {} moved money, {short} refused for funds; total {total} (expected 20000), min balance {}",
        acked.len(),
        finals.iter().min().unwrap()
    );
    assert_eq!(acked.len() + short, 5_000);
    assert_eq!(total, 20_000);
    assert!(finals.iter().all(|&b| b >= 0));

    // Replay the audit trail from zero.
    let entries = all_entries(&env, "").await;
    let mut replayed: HashMap<String, i64> = HashMap::new();
    let mut in_trail = HashSet::new();
    for e in &entries {
        match e.kind() {
            Kind::Credit => *replayed.entry(e.to_account.clone()).or_default() += e.amount,
            Kind::Transfer => {
                let from = replayed.entry(e.from_account.clone()).or_default();
                assert_eq!(*from, e.from_balance_before, "entry {} from", e.id);
                *from -= e.amount;
                assert_eq!(*from, e.from_balance_after);
                let to = replayed.entry(e.to_account.clone()).or_default();
                assert_eq!(*to, e.to_balance_before, "entry {} to", e.id);
                *to += e.amount;
                assert_eq!(*to, e.to_balance_after);
                assert!(
                    in_trail.insert(e.request_id.clone()),
                    "{} twice",
                    e.request_id
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        in_trail, acked,
        "the audit trail holds exactly the acknowledged transfers"
    );
    for (account, balance) in accounts.iter().zip(&finals) {
        assert_eq!(replayed[account], *balance, "{account}");
    }
    // An account's own trail holds exactly the entries that touch it.
    let own = all_entries(&env, "acct-7").await;
    let want: Vec<&str> = entries
        .iter()
        .filter(|e| e.from_account == "acct-7" || e.to_account == "acct-7")
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(own.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), want);
}

/// A transfer retried 10 times with the same id moves money once; the same
/// id with another amount is REQUEST_ID_REUSED; a refused transfer is not
/// remembered, so its retry succeeds once funds arrive.
#[tokio::test]
async fn transfers_apply_exactly_once() {
    let env = Env::start().await;
    let mut ledger = env.service.ledger();
    ledger.credit(credit("a", 100, "")).await.unwrap();
    let first = ledger
        .transfer(transfer("a", "b", 30, "t1"))
        .await
        .unwrap()
        .into_inner();
    for _ in 0..10 {
        let again = ledger
            .transfer(transfer("a", "b", 30, "t1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (again.outcome, again.replayed),
            (first.outcome.clone(), true)
        );
    }
    assert_eq!(
        balances(&env, &["a".into(), "b".into()]).await,
        vec![70, 30]
    );
    let status = ledger
        .transfer(transfer("a", "b", 31, "t1"))
        .await
        .unwrap_err();
    assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");

    let before = env.snapshot().await;
    let short = ledger
        .transfer(transfer("b", "c", 50, "t2"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        short.outcome,
        Some(transfer::Outcome::InsufficientFunds(InsufficientFunds {
            account: "b".into(),
            balance: 30,
            requested: 50,
        }))
    );
    assert_eq!(env.snapshot().await, before, "a refused transfer wrote");
    ledger.credit(credit("b", 20, "")).await.unwrap();
    let retry = ledger
        .transfer(transfer("b", "c", 50, "t2"))
        .await
        .unwrap()
        .into_inner();
    assert!(!retry.replayed);
    assert!(matches!(
        retry.outcome,
        Some(transfer::Outcome::Transferred(_))
    ));
    assert_eq!(entries_count(&env).await, 4);
}

async fn entries_count(env: &Env) -> usize {
    all_entries(env, "").await.len()
}

/// Balances at 2^53−1 are exact; a credit or transfer past it is refused
/// with INVALID_ARGUMENT and writes nothing; a debit never goes below 0.
#[tokio::test]
async fn balances_are_exact_at_the_edges() {
    let env = Env::start().await;
    let mut ledger = env.service.ledger();
    let max = (1_i64 << 53) - 1;
    let r = ledger
        .credit(credit("a", max, ""))
        .await
        .unwrap()
        .into_inner();
    let Some(credit::Outcome::Posted(Posting {
        balance_before,
        balance_after,
        ..
    })) = r.outcome
    else {
        panic!("{r:?}")
    };
    assert_eq!((balance_before, balance_after), (0, max));
    ledger.credit(credit("b", 1, "")).await.unwrap();
    let before = env.snapshot().await;
    let status = ledger.credit(credit("a", 1, "")).await.unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["amount"]);
    let status = ledger
        .transfer(transfer("b", "a", 1, "t1"))
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["amount"]);
    assert_eq!(env.snapshot().await, before, "a refused overflow wrote");

    let r = ledger
        .transfer(transfer("a", "c", max, "t2"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(transfer::Outcome::Transferred(transfer::Transferred {
            from_balance: 0,
            to_balance: max,
            entry_id: match &r.outcome {
                Some(transfer::Outcome::Transferred(t)) => t.entry_id.clone(),
                _ => String::new(),
            },
        }))
    );
    let debit = DebitRequest {
        book: BOOK.into(),
        account: "c".into(),
        amount: max,
        reference: String::new(),
        description: String::new(),
        request_id: String::new(),
    };
    let r = ledger.debit(debit.clone()).await.unwrap().into_inner();
    assert!(matches!(
        r.outcome,
        Some(debit::Outcome::Posted(Posting {
            balance_after: 0,
            ..
        }))
    ));
    let before = env.snapshot().await;
    let r = ledger
        .debit(DebitRequest { amount: 1, ..debit })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(debit::Outcome::InsufficientFunds(InsufficientFunds {
            account: "c".into(),
            balance: 0,
            requested: 1,
        }))
    );
    assert_eq!(env.snapshot().await, before);
}

/// Entries record kind, accounts, amounts, balances before/after,
/// reference, description, request id and Redis's time.
#[tokio::test]
async fn entries_record_everything() {
    let env = Env::start().await;
    let mut ledger = env.service.ledger();
    ledger.credit(credit("a", 500, "c-1")).await.unwrap();
    ledger
        .debit(DebitRequest {
            book: BOOK.into(),
            account: "a".into(),
            amount: 120,
            reference: "inv-9".into(),
            description: "fee €".into(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let entries = all_entries(&env, "a").await;
    let summary: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e.kind(),
                e.from_account.as_str(),
                e.to_account.as_str(),
                e.amount,
                (e.from_balance_before, e.from_balance_after),
                (e.to_balance_before, e.to_balance_after),
                e.reference.as_str(),
                e.description.as_str(),
                e.request_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Kind::Credit,
                "",
                "a",
                500,
                (0, 0),
                (0, 500),
                "ref",
                "top-up",
                "c-1"
            ),
            (
                Kind::Debit,
                "a",
                "",
                120,
                (500, 380),
                (0, 0),
                "inv-9",
                "fee €",
                ""
            ),
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.time.is_some_and(|t| t.seconds > 1_700_000_000))
    );
}

/// The request rules, each INVALID_ARGUMENT naming its fields; nothing is
/// written.
#[tokio::test]
async fn refuses_malformed_requests() {
    let env = Env::start().await;
    let mut ledger = env.service.ledger();
    let before = env.snapshot().await;
    for (request, fields) in [
        (transfer("a", "a", 1, "t"), &["to_account"][..]),
        (transfer("a", "b", 0, "t"), &["amount"]),
        (transfer("a", "b", -5, "t"), &["amount"]),
        (transfer("a", "b", 1 << 53, "t"), &["amount"]),
        (transfer("a", "b", 1, ""), &["transfer_id"]),
        (transfer("", "b c", 1, "t"), &["from_account", "to_account"]),
        (
            TransferRequest {
                reference: "r".repeat(129),
                description: "line\nbreak".into(),
                ..transfer("a", "b", 1, "t")
            },
            &["reference", "description"],
        ),
    ] {
        let status = ledger.transfer(request).await.unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", fields);
    }
    let status = ledger.credit(credit("a", 0, "")).await.unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["amount"]);
    let status = ledger
        .get_balances(GetBalancesRequest {
            book: BOOK.into(),
            accounts: (0..101).map(|i| i.to_string()).collect(),
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["accounts"]);
    assert_eq!(env.snapshot().await, before);
}
