//! Stream retention: the ledger's journals and the stock movements keep
//! every entry unless a retention policy someone chose says otherwise.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use rmw::proto::v1::{CreditRequest, RestockRequest};

use crate::common::Env;

/// Entries appended by each load.
const N: usize = 300;

/// One minor unit into account `a` of book `b`.
fn credit() -> CreditRequest {
    CreditRequest {
        book: "b".into(),
        account: "a".into(),
        amount: 1,
        reference: String::new(),
        description: String::new(),
        request_id: String::new(),
    }
}

/// `N` credits to one account and `N` restocks of one product.
async fn post(env: &Env) {
    let (mut ledger, mut inventory) = (env.service.ledger(), env.service.inventory());
    for _ in 0..N {
        ledger.credit(credit()).await.unwrap();
        inventory
            .restock(RestockRequest {
                store: "s".into(),
                product: "p".into(),
                quantity: 1,
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
}

async fn xlen(conn: &mut MultiplexedConnection, key: &str) -> usize {
    redis::cmd("XLEN").arg(key).query_async(conn).await.unwrap()
}

/// The lengths of the book's and the account's journals, and of the
/// store's and the product's movements.
async fn lengths(env: &Env) -> [usize; 4] {
    let mut conn = env.conn().await;
    let p = &env.service.prefix;
    [
        xlen(&mut conn, &format!("{p}:led:{{b}}:entries")).await,
        xlen(&mut conn, &format!("{p}:led:{{b}}:entries:a")).await,
        xlen(&mut conn, &format!("{p}:inv:{{s}}:moves")).await,
        xlen(&mut conn, &format!("{p}:inv:{{s}}:moves:p")).await,
    ]
}

/// Injected: 300 credits and 300 restocks with the default settings.
/// Asserted: every journal and movements stream holds all 300 entries.
#[tokio::test]
async fn every_entry_is_kept_by_default() {
    let env = Env::start().await;
    post(&env).await;
    assert_eq!(lengths(&env).await, [N; 4]);
}

/// Injected: the same loads with `--ledger-retention 10` and
/// `--movements-retention 10`. Asserted: each stream is trimmed below 300
/// entries, and keeps at least the 10 asked for (Redis trims whole stream
/// nodes, so about 10, never fewer).
#[tokio::test]
async fn a_count_keeps_about_the_newest() {
    let env = Env::start_with(
        &[],
        &["--ledger-retention", "10", "--movements-retention", "10"],
    )
    .await;
    post(&env).await;
    let kept = lengths(&env).await;
    println!("retention 10, {N} entries appended: kept {kept:?}");
    assert!(kept.iter().all(|&n| (10..N).contains(&n)), "{kept:?}");
}

/// Injected: the loads with `--ledger-retention 100ms`, a wait until they
/// are older than that (time must pass for an age to), then one credit
/// more. Asserted: the journals drop the entries older than 100 ms (whole
/// nodes: fewer than 300 remain) and keep the newest; the movements,
/// kept for ever, hold all 300.
#[tokio::test]
async fn an_age_keeps_the_recent() {
    let env = Env::start_with(&[], &["--ledger-retention", "100ms"]).await;
    post(&env).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    env.service.ledger().credit(credit()).await.unwrap();
    let kept = lengths(&env).await;
    println!("retention 100ms, {N} old entries and 1 new: kept {kept:?}");
    assert!(
        (1..N).contains(&kept[0]) && (1..N).contains(&kept[1]),
        "{kept:?}"
    );
    assert_eq!(kept[2..], [N, N]);
}
