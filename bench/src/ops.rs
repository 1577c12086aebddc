//! The operations driven, each three ways: through rmw over gRPC, as
//! the same script by `redis-benchmark`, and by redis-py.

use std::sync::atomic::{AtomicU64, Ordering};

use rmw::{
    proto::v1::{
        CompareAndSwapRequest, CreditRequest, TransferRequest, compare_and_swap_response as cas,
        ledger_service_client::LedgerServiceClient, transfer_response as transfer,
        values_service_client::ValuesServiceClient,
    },
    redis::Script,
};
use tonic::transport::Channel;

/// The key prefix the service under test is started with.
pub const PREFIX: &str = "bench";
/// Keys the compare-and-swap load spreads over.
pub const KEYS: u32 = 1000;
const BOOK: &str = "bench";

/// Books the transfer load spreads over: 1 against a standalone Redis (the
/// figures BENCHMARKS.md compares run to run), more against a cluster, so
/// that transfers reach every primary ([`spread_books`]).
static BOOKS: AtomicU64 = AtomicU64::new(1);

/// Spreads transfers over `books` books from now on.
pub fn spread_books(books: u64) {
    BOOKS.store(books.max(1), Ordering::Relaxed);
}

/// The book of transfer `n`.
fn book(n: u64) -> String {
    match BOOKS.load(Ordering::Relaxed) {
        1 => BOOK.to_owned(),
        books => format!("{BOOK}-{}", n % books),
    }
}

/// An operation to drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    /// ValuesService/CompareAndSwap, `v1` → `v1` on one of 1000 keys, so
    /// every call writes (`values_cas`).
    Cas,
    /// LedgerService/Transfer of 1 minor unit with a fresh transfer id, so
    /// every call writes balances, three stream entries and an idempotency
    /// record (`ledger_transfer`).
    Transfer,
}

impl Op {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Cas => "CompareAndSwap",
            Op::Transfer => "Transfer",
        }
    }

    /// The script it runs.
    pub fn script(self) -> Script {
        match self {
            Op::Cas => Script::ValuesCas,
            Op::Transfer => Script::LedgerTransfer,
        }
    }

    /// The `EVALSHA` arguments after the SHA for `redis-benchmark`, with
    /// `__rand_int__` where it picks a random number, and its `-r` range.
    /// The keys and arguments are those rmw itself sends for the operation.
    pub fn direct_command(self) -> (Vec<String>, u32) {
        let sha = self.script().sha().to_owned();
        let p = PREFIX;
        match self {
            Op::Cas => (
                vec![
                    "EVALSHA".into(),
                    sha,
                    "3".into(),
                    format!("{p}:idem:key:{{{p}:val:__rand_int__}}:"),
                    format!("{p}:val:__rand_int__"),
                    // No fence: the value's key stands in for the lease's.
                    format!("{p}:val:__rand_int__"),
                    String::new(),
                    "86400000".into(),
                    "1".into(),
                    "v1".into(),
                    "1".into(),
                    "v1".into(),
                    String::new(),
                ],
                KEYS,
            ),
            Op::Transfer => (
                vec![
                    "EVALSHA".into(),
                    sha,
                    "8".into(),
                    format!("{p}:led:{{{BOOK}}}:idem:__rand_int__"),
                    format!("{p}:led:{{{BOOK}}}:bal"),
                    format!("{p}:led:{{{BOOK}}}:entries"),
                    format!("{p}:led:{{{BOOK}}}:pend_dr"),
                    format!("{p}:led:{{{BOOK}}}:pend_cr"),
                    format!("{p}:led:{{{BOOK}}}:holds"),
                    format!("{p}:led:{{{BOOK}}}:entries:a"),
                    format!("{p}:led:{{{BOOK}}}:entries:b"),
                    // A fingerprint: the idempotency record is written,
                    // as it is for every rmw transfer.
                    "direct".into(),
                    "86400000".into(),
                    // The retention rmw hands its scripts by default: keep every entry.
                    String::new(),
                    // No clock skew, as rmw runs.
                    "0".into(),
                    // No caller's principal, as rmw runs without a policy.
                    String::new(),
                    "a".into(),
                    "b".into(),
                    "1".into(),
                    String::new(),
                    String::new(),
                    "direct".into(),
                ],
                1_000_000_000,
            ),
        }
    }
}

/// Keys for `redis-benchmark`'s random numbers: twelve digits.
pub fn direct_key(n: u32) -> String {
    format!("{PREFIX}:val:{n:012}")
}

/// The bearer token every call carries, when the service checks them.
static BEARER: std::sync::RwLock<Option<tonic::metadata::AsciiMetadataValue>> =
    std::sync::RwLock::new(None);

/// Sends `authorization: Bearer <token>` with every call from now on.
pub fn set_bearer(token: Option<&str>) {
    let value = token.map(|t| format!("Bearer {t}").parse().expect("a token is ASCII"));
    *BEARER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = value;
}

/// `message` as a request, with the bearer token if one is set.
fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = BEARER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
    {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// A client for one worker.
pub enum Client {
    /// For CompareAndSwap.
    Values(ValuesServiceClient<Channel>),
    /// For CompareAndSwap over Connect JSON (see [`set_http`]).
    Json(rmw_testkit::http::Http),
    /// For Transfer.
    Ledger(LedgerServiceClient<Channel>),
}

/// The HTTP clients CompareAndSwap callers share, round robin, when set:
/// then Op::Cas calls go over Connect JSON instead of gRPC.
static HTTP: std::sync::RwLock<Vec<rmw_testkit::http::Http>> = std::sync::RwLock::new(Vec::new());
static NEXT_HTTP: AtomicU64 = AtomicU64::new(0);

/// Sends CompareAndSwap over Connect JSON through `clients` (none: gRPC).
pub fn set_http(clients: Vec<rmw_testkit::http::Http>) {
    *HTTP
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = clients;
}

/// Makes each transfer id unique across workers and runs.
static NEXT_TRANSFER: AtomicU64 = AtomicU64::new(0);

impl Client {
    /// A client for `op` on `channel`.
    pub fn new(op: Op, channel: Channel) -> Self {
        let http = HTTP
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match op {
            Op::Cas if !http.is_empty() => {
                let next = NEXT_HTTP.fetch_add(1, Ordering::Relaxed) as usize;
                Client::Json(http[next % http.len()].clone())
            }
            Op::Cas => Client::Values(ValuesServiceClient::new(channel)),
            Op::Transfer => Client::Ledger(LedgerServiceClient::new(channel)),
        }
    }

    /// One call; `n` picks the key. Err when the call failed or did not
    /// have the expected outcome.
    pub async fn call(&mut self, n: u64) -> Result<(), String> {
        match self {
            Client::Values(values) => {
                let request = CompareAndSwapRequest {
                    key: format!("k{}", n % u64::from(KEYS)),
                    expected: Some(b"v1".to_vec()),
                    new_value: Some(b"v1".to_vec()),
                    request_id: String::new(),
                    fence: None,
                };
                match values.compare_and_swap(self::request(request)).await {
                    Ok(r) if matches!(r.get_ref().outcome, Some(cas::Outcome::Swapped(_))) => {
                        Ok(())
                    }
                    Ok(r) => Err(format!("unexpected outcome {:?}", r.into_inner())),
                    Err(status) => Err(format!("{:?}", status.code())),
                }
            }
            Client::Json(http) => {
                // `v1` → `v1`, as the gRPC call does; base64 of `v1`.
                let body = format!(
                    r#"{{"key":"k{}","expected":"djE=","newValue":"djE="}}"#,
                    n % u64::from(KEYS)
                );
                let reply = http
                    .post(
                        "/rmw.v1.ValuesService/CompareAndSwap",
                        "application/json",
                        body,
                        &[],
                    )
                    .await;
                if reply.status == 200 && reply.body.as_ref() == br#"{"swapped":{}}"# {
                    Ok(())
                } else {
                    Err(format!(
                        "{} {}",
                        reply.status,
                        String::from_utf8_lossy(&reply.body)
                    ))
                }
            }
            Client::Ledger(ledger) => {
                let id = NEXT_TRANSFER.fetch_add(1, Ordering::Relaxed);
                let request = TransferRequest {
                    book: book(n),
                    from_account: "a".into(),
                    to_account: "b".into(),
                    amount: 1,
                    transfer_id: format!("t-{id}"),
                    reference: String::new(),
                    description: String::new(),
                };
                match ledger.transfer(self::request(request)).await {
                    Ok(r)
                        if matches!(
                            r.get_ref().outcome,
                            Some(transfer::Outcome::Transferred(_))
                        ) =>
                    {
                        Ok(())
                    }
                    Ok(r) => Err(format!("unexpected outcome {:?}", r.into_inner())),
                    Err(status) => Err(format!("{:?}", status.code())),
                }
            }
        }
    }
}

/// Empties Redis and puts every key the loads touch in place: the CAS keys
/// hold `v1` (so every swap writes), account `a` holds 2^52 minor units.
/// Every point starts from this state: idempotency records and stream
/// entries from earlier points would otherwise grow Redis's data set (and
/// its rehashing pauses) from one point to the next.
pub async fn prepare(channel: Channel, redis_url: &str) -> anyhow::Result<()> {
    let mut conn = redis::Client::open(redis_url)?
        .get_multiplexed_async_connection()
        .await?;
    let () = redis::cmd("FLUSHALL").query_async(&mut conn).await?;
    prepare_through(channel).await?;
    let mut mset = redis::cmd("MSET");
    for k in 0..KEYS {
        mset.arg(direct_key(k)).arg("v1");
    }
    let () = mset.query_async(&mut conn).await?;
    Ok(())
}

/// What [`prepare`] writes through rmw, on an emptied Redis: the CAS keys,
/// and every book's account `a` funded.
pub async fn prepare_through(channel: Channel) -> anyhow::Result<()> {
    let mut values = ValuesServiceClient::new(channel.clone());
    for k in 0..KEYS {
        values
            .compare_and_swap(request(CompareAndSwapRequest {
                key: format!("k{k}"),
                expected: None,
                new_value: Some(b"v1".to_vec()),
                request_id: String::new(),
                fence: None,
            }))
            .await?;
    }
    let mut ledger = LedgerServiceClient::new(channel);
    for n in 0..BOOKS.load(Ordering::Relaxed) {
        ledger
            .credit(request(CreditRequest {
                book: book(n),
                account: "a".into(),
                amount: 1 << 52,
                reference: String::new(),
                description: "bench funding".into(),
                request_id: String::new(),
            }))
            .await?;
    }
    Ok(())
}
