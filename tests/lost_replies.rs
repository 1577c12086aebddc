//! Injected: a proxy between the service and Redis that forwards script
//! calls and, for a fifth of them, swallows Redis's reply and closes the
//! connection — the write happened, the caller never heard. Callers retry
//! with the same transfer_id / order_id until they get an answer.
//! Asserted: every operation applied exactly once — money conserved, each
//! transfer once in the audit trail, stock exact.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

use rmw::proto::v1::{
    CreditRequest, GetBalancesRequest, GetStockRequest, ListEntriesRequest, OrderItem,
    PlaceOrderRequest, SetStockRequest, StockLevel, TransferRequest, entry::Kind,
    place_order_response as place, transfer_response as transfer,
};
use tonic::{Code, Request};

use crate::common::{self, Service, load::client_code, proxy::Proxy};

const ACCOUNTS: usize = 10;
const PRODUCTS: [&str; 3] = ["p0", "p1", "p2"];

/// Calls `attempt` until it answers; UNAVAILABLE and DEADLINE_EXCEEDED are
/// retried (at most 100 times), anything else fails the test. Returns the
/// answer and the attempts it took.
async fn until_answered<T, F, Fut>(mut attempt: F) -> (T, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    for tries in 1..=100 {
        match attempt().await {
            Ok(reply) => return (reply, tries),
            // The deadline may be seen first by the client (tonic:
            // CANCELLED "Timeout expired"): the same DEADLINE_EXCEEDED.
            Err(status)
                if matches!(
                    client_code(&status),
                    Code::Unavailable | Code::DeadlineExceeded
                ) =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(status) => panic!("not retry-safe: {status:?}"),
        }
    }
    panic!("no answer after 100 attempts");
}

fn timed<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(Duration::from_secs(2));
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_replies_are_applied_exactly_once() {
    let redis = common::redis(&[]).await;
    let proxy = Arc::new(Proxy::start(redis.port()).await);
    let service = Service::start(&proxy.url()).await.ready().await;
    let accounts: Vec<String> = (0..ACCOUNTS).map(|i| format!("a{i}")).collect();
    for account in &accounts {
        service
            .ledger()
            .credit(CreditRequest {
                book: "b".into(),
                account: account.clone(),
                amount: 500,
                reference: String::new(),
                description: String::new(),
                request_id: format!("fund-{account}"),
            })
            .await
            .unwrap();
    }
    service
        .inventory()
        .set_stock(SetStockRequest {
            store: "s".into(),
            levels: PRODUCTS
                .iter()
                .map(|p| StockLevel {
                    product: (*p).into(),
                    quantity: 400,
                    ..Default::default()
                })
                .collect(),
            request_id: String::new(),
        })
        .await
        .unwrap();

    proxy.lose_replies(20);
    let mut tasks = Vec::new();
    for caller in 0..8_usize {
        let service_ledger = service.ledger();
        let service_inventory = service.inventory();
        let accounts = accounts.clone();
        tasks.push(tokio::spawn(async move {
            let (ledger, inventory) = (service_ledger, service_inventory);
            let mut retries = 0;
            let mut moved = Vec::new();
            for n in 0..30_usize {
                let from = &accounts[(caller + n) % ACCOUNTS];
                let to = &accounts[(caller + n * 3 + 1) % ACCOUNTS];
                if from == to {
                    continue;
                }
                let id = format!("t-{caller}-{n}");
                let request = TransferRequest {
                    book: "b".into(),
                    from_account: from.clone(),
                    to_account: to.clone(),
                    amount: 1 + (n as i64 % 7),
                    transfer_id: id.clone(),
                    reference: String::new(),
                    description: String::new(),
                };
                let (reply, tries) = until_answered(|| {
                    let (mut ledger, request) = (ledger.clone(), request.clone());
                    async move { ledger.transfer(timed(request)).await }
                })
                .await;
                retries += tries - 1;
                if matches!(
                    reply.into_inner().outcome,
                    Some(transfer::Outcome::Transferred(_))
                ) {
                    moved.push(id);
                }
            }
            let mut taken: HashMap<String, i64> = HashMap::new();
            for n in 0..15_usize {
                let items: Vec<OrderItem> = (0..2)
                    .map(|k| OrderItem {
                        product: PRODUCTS[(caller + n + k) % 3].into(),
                        quantity: 1 + k as i64,
                    })
                    .collect();
                let request = PlaceOrderRequest {
                    store: "s".into(),
                    order_id: format!("o-{caller}-{n}"),
                    items: items.clone(),
                };
                let (reply, tries) = until_answered(|| {
                    let (mut inventory, request) = (inventory.clone(), request.clone());
                    async move { inventory.place_order(timed(request)).await }
                })
                .await;
                retries += tries - 1;
                if let Some(place::Outcome::Placed(_)) = reply.into_inner().outcome {
                    for item in items {
                        *taken.entry(item.product).or_default() += item.quantity;
                    }
                }
            }
            (moved, taken, retries)
        }));
    }
    let mut moved = Vec::new();
    let mut taken: HashMap<String, i64> = HashMap::new();
    let mut retries = 0;
    for task in tasks {
        let (m, t, r) = task.await.unwrap();
        moved.extend(m);
        for (product, q) in t {
            *taken.entry(product).or_default() += q;
        }
        retries += r;
    }
    proxy.lose_replies(0);

    // Money: conserved, and each acknowledged transfer exactly once in the
    // audit trail.
    let balances = service
        .ledger()
        .get_balances(GetBalancesRequest {
            book: "b".into(),
            accounts: accounts.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .balances;
    let total: i64 = balances.iter().map(|b| b.balance).sum();
    let mut in_trail: BTreeMap<String, u32> = BTreeMap::new();
    let mut token = String::new();
    loop {
        let page = service
            .ledger()
            .list_entries(ListEntriesRequest {
                book: "b".into(),
                account: String::new(),
                page_size: 1000,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        for entry in page.entries.iter().filter(|e| e.kind() == Kind::Transfer) {
            *in_trail.entry(entry.request_id.clone()).or_default() += 1;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    // Stock: exactly the placed orders' items gone.
    let levels = service
        .inventory()
        .get_stock(GetStockRequest {
            store: "s".into(),
            products: PRODUCTS.iter().map(|p| (*p).into()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .levels;
    println!(
        "lost replies: {} replies swallowed, {retries} retries; {} transfers acknowledged, {} in the audit trail; total {total} of {}; stock {:?}, taken {taken:?}",
        proxy.lost(),
        moved.len(),
        in_trail.len(),
        500 * ACCOUNTS,
        levels
            .iter()
            .map(|l| (l.product.clone(), l.quantity))
            .collect::<Vec<_>>()
    );
    assert!(proxy.lost() > 0, "the fault was injected");
    assert_eq!(total, 500 * ACCOUNTS as i64, "money conserved");
    assert!(
        in_trail.values().all(|&n| n == 1),
        "a transfer applied twice: {in_trail:?}"
    );
    let mut moved_sorted = moved.clone();
    moved_sorted.sort();
    assert_eq!(
        in_trail.keys().cloned().collect::<Vec<_>>(),
        moved_sorted,
        "the audit trail holds exactly the acknowledged transfers"
    );
    for level in &levels {
        assert_eq!(
            400 - taken.get(&level.product).copied().unwrap_or(0),
            level.quantity,
            "{}",
            level.product
        );
    }
}
