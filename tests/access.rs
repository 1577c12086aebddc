//! Access control: identities from client certificates and bearer tokens,
//! rules per method and resource kind, declared limits, and reloads.

use std::{
    fmt::Write as _,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rmw::proto::v1::{
    AdjustCounterRequest, ConsumeQuotaRequest, CreditRequest, EnableJournalRequest,
    GetHealthRequest, GetStockRequest, GetValueRequest, NextIdsRequest, OrderItem,
    PlaceOrderRequest, PutRecordRequest, SetStockRequest, StockLevel, TransferRequest,
    WatchMovementsRequest, adjust_counter_response as adjust,
    admin_service_client::AdminServiceClient, consume_quota_response as consume,
    inventory_service_client::InventoryServiceClient, movement::Kind as Moved,
};
use tonic::{
    Code, Request, Status,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};

use crate::common::{self, Binary, Env, Service, pki::Pki};

pub(crate) const ISSUER: &str = "https://issuer.test";
pub(crate) const AUDIENCE: &str = "rmw";

/// A signing key made for the test, and its public half as a PEM file.
pub(crate) struct Signer {
    key: EncodingKey,
    pub(crate) public_pem: String,
}

impl Signer {
    pub(crate) fn new() -> Self {
        let pair = rcgen::KeyPair::generate().unwrap();
        Self {
            key: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap(),
            public_pem: pair.public_key_pem(),
        }
    }

    /// A token for `sub`, expiring `ttl_secs` from now (in the past when
    /// negative), for `audience` from `issuer`.
    fn token_for(&self, sub: &str, ttl_secs: i64, issuer: &str, audience: &str) -> String {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let claims = serde_json::json!({
            "sub": sub, "iss": issuer, "aud": audience, "exp": now + ttl_secs, "iat": now,
        });
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.key).unwrap()
    }

    pub(crate) fn token(&self, sub: &str) -> String {
        self.token_for(sub, 600, ISSUER, AUDIENCE)
    }
}

/// `message` with `authorization: Bearer <token>`.
pub(crate) fn bearer<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// A policy file and a key file in a temporary folder.
pub(crate) struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    pub(crate) fn new(policy: &str, keys: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
        std::fs::write(dir.path().join("keys.pem"), keys).unwrap();
        Self { dir }
    }

    fn policy(&self) -> String {
        self.dir.path().join("policy.toml").display().to_string()
    }

    fn keys(&self) -> String {
        self.dir.path().join("keys.pem").display().to_string()
    }

    /// Replaces the policy as a ConfigMap update does: whole, by rename.
    fn replace_policy(&self, text: &str) {
        let next = self.dir.path().join("policy.next");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(next, self.dir.path().join("policy.toml")).unwrap();
    }

    /// The service flags for these files.
    pub(crate) fn args(&self) -> Vec<String> {
        [
            "--policy",
            &self.policy(),
            "--jwt-keys",
            &self.keys(),
            "--jwt-issuer",
            ISSUER,
            "--jwt-audience",
            AUDIENCE,
            "--policy-check-interval",
            "100ms",
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

pub(crate) async fn start(files: &Files) -> Env {
    let args = files.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Env::start_with(&[], &args).await
}

fn denied(status: &Status, kind: &str, name: &str) {
    common::assert_error(status, Code::PermissionDenied, "PERMISSION_DENIED");
    let details = tonic_types::StatusExt::get_error_details(status);
    let info = details.error_info().expect("ErrorInfo");
    assert_eq!(
        (
            info.metadata["kind"].as_str(),
            info.metadata["name"].as_str()
        ),
        (kind, name),
        "{status:?}"
    );
}

fn unauthenticated(status: &Status) {
    common::assert_error(status, Code::Unauthenticated, "UNAUTHENTICATED");
}

const MESH: &str = r#"
# The orders service places and cancels orders in the shop's stores.
[[rule]]
principals = ["spiffe://mesh.test/ns/shop/sa/orders"]
methods = ["InventoryService/PlaceOrder", "InventoryService/CancelOrder", "InventoryService/GetStock"]
stores = ["shop-*"]
products = ["*"]

# Payments transfers within the EU books.
[[rule]]
principals = ["payments.mesh.test"]
methods = ["LedgerService/Transfer", "LedgerService/GetBalances"]
books = ["eu-*"]
accounts = ["*"]

# The dashboard reads everything, changes nothing.
[[rule]]
principals = ["dashboard"]
methods = ["*/Get*", "*/List*", "*/Watch*"]
stores = ["*"]
products = ["*"]
books = ["*"]
accounts = ["*"]

# Operators see the topology.
[[rule]]
principals = ["ops"]
methods = ["AdminService/*", "InventoryService/SetStock"]
admin = true
stores = ["*"]
products = ["*"]
"#;

/// A channel presenting a client certificate with `cn` and `sans`.
async fn mtls_channel(service: &Service, pki: &Pki, cn: &str, sans: &[&str]) -> Channel {
    let (cert, key) = pki.client(cn, sans);
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(&pki.ca).unwrap()))
        .domain_name("localhost")
        .identity(Identity::from_pem(cert, key));
    service.channel_with(Some(tls)).await.unwrap()
}

fn order(store: &str, id: &str) -> PlaceOrderRequest {
    PlaceOrderRequest {
        store: store.into(),
        order_id: id.into(),
        items: vec![OrderItem {
            product: "apple".into(),
            quantity: 1,
        }],
    }
}

fn stock(store: &str) -> SetStockRequest {
    SetStockRequest {
        store: store.into(),
        levels: vec![StockLevel {
            product: "apple".into(),
            quantity: 10,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Injected: callers with client certificates naming them by SPIFFE URI
/// (beside a DNS name), by DNS name, by CN only, and with no certificate
/// the policy knows. Asserted: each is granted exactly its rule's methods
/// and resources; a denial is PERMISSION_DENIED naming the kind and name
/// refused and leaves Redis unchanged; AdminService needs an admin rule;
/// health stays open.
#[tokio::test]
async fn client_certificates_are_granted_their_rules() {
    let pki = Pki::new();
    let files = Files::new(MESH, "");
    let redis = common::redis(&[]).await;
    let mut args = pki.mtls_args();
    args.extend(["--policy".to_owned(), files.policy()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let service = Service::start_with(&redis.url(), &args).await.ready().await;
    let mut conn = common::connect(&redis.url()).await;

    let ops = mtls_channel(&service, &pki, "ops", &[]).await;
    InventoryServiceClient::new(ops.clone())
        .set_stock(stock("shop-1"))
        .await
        .unwrap();
    InventoryServiceClient::new(ops.clone())
        .set_stock(stock("other-1"))
        .await
        .unwrap();
    AdminServiceClient::new(ops)
        .get_health(GetHealthRequest::default())
        .await
        .unwrap();

    // The SPIFFE URI names the caller, not its DNS name.
    let orders = mtls_channel(
        &service,
        &pki,
        "orders",
        &["orders.mesh.test", "spiffe://mesh.test/ns/shop/sa/orders"],
    )
    .await;
    let mut inventory = InventoryServiceClient::new(orders.clone());
    inventory.place_order(order("shop-1", "o1")).await.unwrap();
    let before = common::snapshot(&mut conn, &service.prefix).await;
    let status = inventory
        .place_order(order("other-1", "o2"))
        .await
        .unwrap_err();
    denied(&status, "store", "other-1");
    let status = inventory.set_stock(stock("shop-1")).await.unwrap_err();
    denied(&status, "method", "InventoryService/SetStock");
    assert_eq!(common::snapshot(&mut conn, &service.prefix).await, before);
    let status = AdminServiceClient::new(orders)
        .get_health(GetHealthRequest::default())
        .await
        .unwrap_err();
    denied(&status, "method", "AdminService/GetHealth");

    // A DNS name alone names the caller: payments may not touch stores.
    let payments = mtls_channel(&service, &pki, "", &["payments.mesh.test"]).await;
    let status = InventoryServiceClient::new(payments)
        .get_stock(GetStockRequest {
            store: "shop-1".into(),
            products: vec!["apple".into()],
        })
        .await
        .unwrap_err();
    denied(&status, "method", "InventoryService/GetStock");

    // A read-only rule: reads pass, writes do not, and AdminService is
    // not granted by a `*/Get*` pattern without `admin`.
    let dashboard = mtls_channel(&service, &pki, "dashboard", &[]).await;
    let levels = InventoryServiceClient::new(dashboard.clone())
        .get_stock(GetStockRequest {
            store: "shop-1".into(),
            products: vec!["apple".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(levels.levels[0].quantity, 9);
    let status = InventoryServiceClient::new(dashboard.clone())
        .place_order(order("shop-1", "o3"))
        .await
        .unwrap_err();
    denied(&status, "method", "InventoryService/PlaceOrder");
    let status = AdminServiceClient::new(dashboard)
        .get_health(GetHealthRequest::default())
        .await
        .unwrap_err();
    denied(&status, "method", "AdminService/GetHealth");

    // A certificate the policy does not name: no rule, nothing granted.
    let stranger = mtls_channel(&service, &pki, "stranger", &[]).await;
    let status = InventoryServiceClient::new(stranger)
        .get_stock(GetStockRequest {
            store: "shop-1".into(),
            products: vec![],
        })
        .await
        .unwrap_err();
    denied(&status, "method", "InventoryService/GetStock");
    assert_eq!(common::snapshot(&mut conn, &service.prefix).await, before);

    let metrics = common::scrape(service.metrics_addr).await;
    assert_eq!(
        common::sample(
            &metrics,
            r#"rmw_rpc_denied_total{method="InventoryService/PlaceOrder",kind="store"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    // Health needs no credentials: probes have none.
    assert_eq!(
        service.health("").await.unwrap(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
}

/// Injected: bearer tokens that are valid, expired, for another
/// audience, from another issuer, signed by a key the service does not
/// know, unsigned (`alg: none`), HS256-signed with the public key as the
/// secret, and none at all. Asserted: only the valid one is served; every
/// other is UNAUTHENTICATED, and nothing is written.
#[tokio::test]
async fn only_valid_bearer_tokens_are_accepted() {
    let signer = Signer::new();
    let files = Files::new(
        r#"
[[rule]]
principals = ["svc-*"]
methods = ["ValuesService/*"]
values = ["*"]
"#,
        &signer.public_pem,
    );
    let env = start(&files).await;
    let mut values = env.service.values();
    let get = || GetValueRequest { key: "k".into() };
    values
        .get_value(bearer(get(), &signer.token("svc-a")))
        .await
        .unwrap();

    let stranger = Signer::new();
    let header = |alg: &str| {
        let json = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        b64(json.as_bytes())
    };
    let payload = b64(serde_json::json!({
        "sub": "svc-a", "iss": ISSUER, "aud": AUDIENCE,
        "exp": jsonwebtoken::get_current_timestamp() + 600,
    })
    .to_string()
    .as_bytes());
    let unsigned = format!("{}.{payload}.", header("none"));
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({
            "sub": "svc-a", "iss": ISSUER, "aud": AUDIENCE,
            "exp": jsonwebtoken::get_current_timestamp() + 600,
        }),
        &EncodingKey::from_secret(signer.public_pem.as_bytes()),
    )
    .unwrap();
    let refused = [
        ("expired", signer.token_for("svc-a", -120, ISSUER, AUDIENCE)),
        (
            "wrong audience",
            signer.token_for("svc-a", 600, ISSUER, "other"),
        ),
        (
            "wrong issuer",
            signer.token_for("svc-a", 600, "https://evil.test", AUDIENCE),
        ),
        ("unknown key", stranger.token("svc-a")),
        ("alg none", unsigned),
        ("HS256 with the public key", confused),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (what, token) in refused {
        let status = values.get_value(bearer(get(), &token)).await.unwrap_err();
        println!("{what}: {}", status.message());
        unauthenticated(&status);
    }
    let status = values.get_value(get()).await.unwrap_err();
    unauthenticated(&status);
    // A valid token for a principal no rule names: denied, not unknown.
    let status = values
        .get_value(bearer(get(), &signer.token("batch")))
        .await
        .unwrap_err();
    denied(&status, "method", "ValuesService/GetValue");
}

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Injected: one principal granted one name of every resource kind, and
/// calls to that name and to another for each kind. Asserted: the granted
/// calls are served; each other is PERMISSION_DENIED naming its kind and
/// name, and none of them changed Redis.
#[tokio::test]
async fn every_resource_kind_is_checked() {
    let signer = Signer::new();
    let files = Files::new(
        r#"
[[rule]]
principals = ["app"]
methods = ["*"]
stores = ["s"]
products = ["p"]
books = ["b"]
accounts = ["a1", "a2"]
values = ["v:*"]
records = ["r:*"]
tags = ["t"]
counters = ["c"]
quotas = ["q"]
sequences = ["seq"]
leases = ["l"]
"#,
        &signer.public_pem,
    );
    let env = start(&files).await;
    let token = signer.token("app");
    // Kind, a name granted, a name not; in an order where each granted
    // call finds what it needs (the book funded before the transfer).
    let kinds = [
        ("value", "v:1", "w:1"),
        ("record", "r:1", "x:1"),
        ("tag", "t", "u"),
        ("store", "s", "s2"),
        ("product", "p", "p2"),
        ("book", "b", "b2"),
        ("account", "a2", "a3"),
        ("counter", "c", "c2"),
        // A counter grant is not a quota grant, though both are counters.
        ("quota", "q", "c"),
        ("sequence", "seq", "seq2"),
        ("lease", "l", "l2"),
    ];
    for (kind, granted, _) in kinds {
        touch(&env.service, kind, granted, &token)
            .await
            .unwrap_or_else(|status| panic!("{kind} {granted}: {status:?}"));
    }
    let before = env.snapshot().await;
    for (kind, _, refused) in kinds {
        let status = touch(&env.service, kind, refused, &token)
            .await
            .unwrap_err();
        denied(&status, kind, refused);
    }
    // A watch is checked before it opens.
    let status = env
        .service
        .inventory()
        .watch_movements(bearer(
            WatchMovementsRequest {
                store: "s2".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    denied(&status, "store", "s2");
    assert_eq!(env.snapshot().await, before, "a denied call wrote");
}

/// One call that names `name` as a resource of `kind` (and otherwise only
/// the granted names of [`every_resource_kind_is_checked`]).
async fn touch(s: &Service, kind: &str, name: &str, t: &str) -> Result<(), Status> {
    let name = name.to_owned();
    let level = |store: &str, product: &str| SetStockRequest {
        store: store.into(),
        levels: vec![StockLevel {
            product: product.into(),
            quantity: 1,
            ..Default::default()
        }],
        ..Default::default()
    };
    match kind {
        "value" => s
            .values()
            .get_value(bearer(GetValueRequest { key: name }, t))
            .await
            .map(drop),
        "record" => {
            let request = PutRecordRequest {
                key: name,
                value: b"x".to_vec(),
                ..Default::default()
            };
            s.records().put_record(bearer(request, t)).await.map(drop)
        }
        "tag" => s
            .records()
            .enable_journal(bearer(EnableJournalRequest { tag: name }, t))
            .await
            .map(drop),
        "store" => s
            .inventory()
            .set_stock(bearer(level(&name, "p"), t))
            .await
            .map(drop),
        "product" => s
            .inventory()
            .set_stock(bearer(level("s", &name), t))
            .await
            .map(drop),
        "book" => {
            let request = CreditRequest {
                book: name,
                account: "a1".into(),
                amount: 5,
                ..Default::default()
            };
            s.ledger().credit(bearer(request, t)).await.map(drop)
        }
        "account" => {
            let request = TransferRequest {
                book: "b".into(),
                from_account: "a1".into(),
                transfer_id: format!("to-{name}"),
                to_account: name,
                amount: 1,
                ..Default::default()
            };
            s.ledger().transfer(bearer(request, t)).await.map(drop)
        }
        "counter" => {
            let request = AdjustCounterRequest {
                name,
                amount: 1,
                ..Default::default()
            };
            s.counters()
                .adjust_counter(bearer(request, t))
                .await
                .map(drop)
        }
        "quota" => {
            let request = ConsumeQuotaRequest {
                name,
                amount: 1,
                daily_limit: 5,
                ..Default::default()
            };
            s.counters()
                .consume_quota(bearer(request, t))
                .await
                .map(drop)
        }
        "sequence" => {
            let request = NextIdsRequest {
                name,
                count: 1,
                ..Default::default()
            };
            s.sequences().next_ids(bearer(request, t)).await.map(drop)
        }
        "lease" => {
            let request = rmw::proto::v1::AcquireRequest {
                name,
                owner: "me".into(),
                ttl: Some(prost_types::Duration {
                    seconds: 5,
                    nanos: 0,
                }),
                ..Default::default()
            };
            s.leases().acquire(bearer(request, t)).await.map(drop)
        }
        other => panic!("no call for kind {other}"),
    }
}

/// Injected: a declared quota (5 a day at UTC+0) and a declared counter
/// (0..10), and callers asking for more: another offset (a fresh day), a
/// larger daily limit, a larger max. Asserted: the offset is refused, the
/// limit and max are the declared ones; an undeclared quota keeps the
/// request's own.
#[tokio::test]
async fn declared_limits_win_over_the_request() {
    let signer = Signer::new();
    let files = Files::new(
        r#"
[[rule]]
principals = ["app"]
methods = ["CountersService/*"]
counters = ["*"]
quotas = ["*"]

[[quota]]
name = "sms:*"
daily_limit = 5

[[counter]]
name = "seats:*"
min = 0
max = 10
"#,
        &signer.public_pem,
    );
    let env = start(&files).await;
    let mut c = env.service.counters();
    let t = signer.token("app");
    let spend = |name: &str, offset: i32| ConsumeQuotaRequest {
        name: name.into(),
        amount: 1,
        daily_limit: 1000,
        utc_offset_minutes: offset,
        ..Default::default()
    };
    let mut spent = 0;
    for offset in [0, 60, -60, 120, 0, 0, 0, 0, 0, 0] {
        match c
            .consume_quota(bearer(spend("sms:alice", offset), &t))
            .await
        {
            Ok(reply) => match reply.into_inner().outcome.unwrap() {
                consume::Outcome::Consumed(_) => spent += 1,
                consume::Outcome::LimitExceeded(exceeded) => assert_eq!(exceeded.limit, 5),
            },
            Err(status) => {
                assert_ne!(offset, 0);
                common::assert_invalid(&status, "INVALID_ARGUMENT", &["utc_offset_minutes"]);
            }
        }
    }
    assert_eq!(spent, 5, "the declared daily limit is 5");
    // Undeclared: the request's own limit, as before.
    for _ in 0..7 {
        let reply = c
            .consume_quota(bearer(spend("mail:alice", 0), &t))
            .await
            .unwrap();
        assert!(matches!(
            reply.into_inner().outcome,
            Some(consume::Outcome::Consumed(_))
        ));
    }
    let adjust = |amount: i64| AdjustCounterRequest {
        name: "seats:hall".into(),
        amount,
        max: Some(1_000_000),
        ..Default::default()
    };
    let reply = c
        .adjust_counter(bearer(adjust(20), &t))
        .await
        .unwrap()
        .into_inner();
    match reply.outcome.unwrap() {
        adjust::Outcome::OutOfBounds(out) => assert_eq!(out.bound, 10),
        other @ adjust::Outcome::Adjusted(_) => panic!("past the declared max: {other:?}"),
    }
    let reply = c
        .adjust_counter(bearer(adjust(10), &t))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(reply.outcome, Some(adjust::Outcome::Adjusted(_))));
}

/// One call's check: when it ran, which store it asked for, whether it
/// was let in.
struct Observed {
    started: Instant,
    ended: Instant,
    store: &'static str,
    ok: bool,
}

/// Injected: callers in a loop while the policy file is replaced (by
/// rename) to grant another store, then with a broken file. Asserted:
/// there is one instant at which the policy changed for every call — no
/// call saw both stores granted or neither — and the broken file changed
/// nothing and was counted as refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_swaps_the_whole_policy_and_a_broken_file_changes_nothing() {
    let signer = Signer::new();
    let policy = |store: &str| {
        // A hundred rules for others, so that the file is not trivial.
        let mut text = String::new();
        for i in 0..100 {
            let _ = write!(
                text,
                "[[rule]]\nprincipals = [\"other-{i}\"]\nmethods = [\"*\"]\nstores = [\"*\"]\n\n"
            );
        }
        let _ = write!(
            text,
            "[[rule]]\nprincipals = [\"app\"]\nmethods = [\"InventoryService/GetStock\"]\nstores = [\"{store}\"]\nproducts = [\"*\"]\n"
        );
        text
    };
    let files = Files::new(&policy("one"), &signer.public_pem);
    let env = start(&files).await;
    let token = Arc::new(signer.token("app"));
    let observed = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..4)
        .map(|i| {
            let mut c = env.service.inventory();
            let (token, observed, stop) = (token.clone(), observed.clone(), stop.clone());
            tokio::spawn(async move {
                let store = if i % 2 == 0 { "one" } else { "two" };
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    let request = GetStockRequest {
                        store: store.into(),
                        products: vec!["p".into()],
                    };
                    let result = c.get_stock(bearer(request, &token)).await;
                    let ok = match result {
                        Ok(_) => true,
                        Err(status) => {
                            denied(&status, "store", store);
                            false
                        }
                    };
                    observed.lock().unwrap().push(Observed {
                        started,
                        ended: Instant::now(),
                        store,
                        ok,
                    });
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    files.replace_policy(&policy("two"));
    // Until calls for "two" pass, then a little longer.
    wait_until(&observed, |o| o.store == "two" && o.ok).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    let observed = std::mem::take(&mut *observed.lock().unwrap());
    // The policy changed at one instant T: a call let in to "one", or
    // refused "two", checked before T; one refused "one" or let in to
    // "two" checked after it. Such a T exists iff the latest start of the
    // first group is before the earliest end of the second.
    let before_latest = observed
        .iter()
        .filter(|o| (o.store == "one") == o.ok)
        .map(|o| o.started)
        .max()
        .unwrap();
    let after_earliest = observed
        .iter()
        .filter(|o| (o.store == "two") == o.ok)
        .map(|o| o.ended)
        .min()
        .unwrap();
    println!(
        "{} calls across the reload; the swap fits between {:?} and {:?} after the first",
        observed.len(),
        before_latest - observed[0].started,
        after_earliest - observed[0].started,
    );
    assert!(
        before_latest < after_earliest,
        "some call saw a mixed policy"
    );

    // A broken file: refused, counted, and the policy in force stays.
    files.replace_policy("[[rule]]\nprincipals = [\"app\"\n");
    let started = Instant::now();
    loop {
        let metrics = common::scrape(env.service.metrics_addr).await;
        if common::sample(&metrics, r#"rmw_policy_reloads_total{result="refused"}"#) >= Some(1.0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the broken file was never read"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut c = env.service.inventory();
    let t = signer.token("app");
    c.get_stock(bearer(
        GetStockRequest {
            store: "two".into(),
            products: vec!["p".into()],
        },
        &t,
    ))
    .await
    .unwrap();
    let status = c
        .get_stock(bearer(
            GetStockRequest {
                store: "one".into(),
                products: vec!["p".into()],
            },
            &t,
        ))
        .await
        .unwrap_err();
    denied(&status, "store", "one");
}

async fn wait_until(observed: &Mutex<Vec<Observed>>, seen: impl Fn(&Observed) -> bool) {
    let started = Instant::now();
    while !observed.lock().unwrap().iter().any(&seen) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new policy never took effect"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Injected: the binary with a policy it checks for changes only hourly,
/// the file replaced, then SIGHUP. Asserted: the new policy is in force
/// after the signal (and the old one before it).
#[tokio::test]
async fn sighup_reloads_the_policy() {
    let signer = Signer::new();
    let grant = |key: &str| {
        format!(
            "[[rule]]\nprincipals = [\"app\"]\nmethods = [\"ValuesService/GetValue\"]\nvalues = [\"{key}\"]\n"
        )
    };
    let files = Files::new(&grant("a"), &signer.public_pem);
    let mut args = files.args();
    *args.last_mut().unwrap() = "1h".into();
    args.extend(["--dev".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let binary = Binary::spawn(&args).await;
    let mut values =
        rmw::proto::v1::values_service_client::ValuesServiceClient::new(binary.channel.clone());
    let t = signer.token("app");
    let get = |key: &str| bearer(GetValueRequest { key: key.into() }, &t);
    values.get_value(get("a")).await.unwrap();
    files.replace_policy(&grant("b"));
    denied(&values.get_value(get("b")).await.unwrap_err(), "value", "b");
    binary.signal("HUP");
    let started = Instant::now();
    while values.get_value(get("b")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "SIGHUP did not reload"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    denied(&values.get_value(get("a")).await.unwrap_err(), "value", "a");
}

/// The policies shipped in the production overlay and shown in
/// docs/ACCESS.md parse, and a broken one names its fault.
#[test]
fn the_shipped_policies_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let overlay =
        std::fs::read_to_string(root.join("deploy/k8s/overlays/production/policy.toml")).unwrap();
    let policy = rmw::auth::Policy::parse(&overlay).unwrap();
    assert_eq!(policy.len(), 4);
    let docs = std::fs::read_to_string(root.join("docs/ACCESS.md")).unwrap();
    let example = docs
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    assert_eq!(rmw::auth::Policy::parse(example).unwrap().len(), 4);
    for (broken, fault) in [
        (
            "[[rule]]\nprincipals = [\"a\"]\nmethods = [\"*\"]\nshops = [\"*\"]\n",
            "shops",
        ),
        (
            "[[rule]]\nprincipals = []\nmethods = [\"*\"]\n",
            "needs principals",
        ),
        (
            "[[rule]]\nprincipals = [\"a\\\\\"]\nmethods = [\"*\"]\n",
            "lone",
        ),
        ("[[quota]]\nname = \"q\"\ndaily_limit = 0\n", "daily_limit"),
        ("[[counter]]\nname = \"c\"\nmin = 5\nmax = 1\n", "above max"),
    ] {
        let error = rmw::auth::Policy::parse(broken).unwrap_err();
        assert!(error.contains(fault), "{broken:?}: {error}");
    }
}

/// Injected: stock and money moved by a caller with a bearer token, a hold
/// that expires, and the same calls on a service with no policy and no
/// identity. Asserted: every movement and entry the caller made names it;
/// the expiry names no one (no call made it); without an identity the
/// principal is empty.
#[tokio::test]
async fn the_audit_trail_names_the_caller() {
    let signer = Signer::new();
    let files = Files::new(
        r#"
[[rule]]
principals = ["clerk"]
methods = ["InventoryService/*", "LedgerService/*"]
stores = ["*"]
products = ["*"]
books = ["*"]
accounts = ["*"]
"#,
        &signer.public_pem,
    );
    let env = start(&files).await;
    let t = signer.token("clerk");
    audit_trail(&env.service, Some(&t), "clerk").await;
    let open = Env::start().await;
    audit_trail(&open.service, None, "").await;
}

/// Moves stock and money on `s` with `token`, and checks that each
/// movement and entry names `principal` (an expiry, no one).
async fn audit_trail(s: &Service, token: Option<&str>, principal: &str) {
    fn with<T>(message: T, token: Option<&str>) -> Request<T> {
        match token {
            Some(token) => bearer(message, token),
            None => Request::new(message),
        }
    }
    let mut inventory = s.inventory();
    inventory
        .set_stock(with(stock("shop"), token))
        .await
        .unwrap();
    inventory
        .place_order(with(order("shop", "o1"), token))
        .await
        .unwrap();
    let hold = rmw::proto::v1::HoldStockRequest {
        store: "shop".into(),
        hold_id: "h1".into(),
        items: vec![OrderItem {
            product: "apple".into(),
            quantity: 1,
        }],
        ttl: Some(prost_types::Duration {
            seconds: 0,
            nanos: 1_000_000,
        }),
        ..Default::default()
    };
    inventory.hold_stock(with(hold, token)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The next change settles the due hold: its expiry movement is
    // written in this caller's call, and still names no one.
    let restock = rmw::proto::v1::RestockRequest {
        store: "shop".into(),
        product: "apple".into(),
        quantity: 1,
        ..Default::default()
    };
    inventory.restock(with(restock, token)).await.unwrap();
    let movements = inventory
        .list_movements(with(
            rmw::proto::v1::ListMovementsRequest {
                store: "shop".into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .movements;
    let kinds: Vec<(i32, &str)> = movements
        .iter()
        .map(|m| (m.kind, m.principal.as_str()))
        .collect();
    let expected: Vec<(i32, &str)> = [Moved::Set, Moved::Deduct, Moved::Hold, Moved::Restock]
        .iter()
        .map(|&k| (k as i32, principal))
        .chain([(Moved::Expire as i32, "")])
        .collect();
    let mut sorted = kinds.clone();
    sorted.sort_unstable();
    let mut wanted = expected.clone();
    wanted.sort_unstable();
    assert_eq!(sorted, wanted, "{movements:?}");

    let mut ledger = s.ledger();
    let credit = CreditRequest {
        book: "b".into(),
        account: "a".into(),
        amount: 10,
        ..Default::default()
    };
    ledger.credit(with(credit, token)).await.unwrap();
    let transfer = TransferRequest {
        book: "b".into(),
        from_account: "a".into(),
        to_account: "c".into(),
        amount: 3,
        transfer_id: "t1".into(),
        ..Default::default()
    };
    ledger.transfer(with(transfer, token)).await.unwrap();
    let entries = ledger
        .list_entries(with(
            rmw::proto::v1::ListEntriesRequest {
                book: "b".into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries.iter().all(|e| e.principal == principal),
        "{entries:?}"
    );
}

/// Injected: an `authorization` header that is no bearer token (Basic
/// credentials meant for a proxy) on a service with no policy and no
/// `--jwt-keys`. Asserted: it is served as before access control: the
/// header is not rmw's to judge there.
#[tokio::test]
async fn an_open_service_ignores_authorization_it_does_not_check() {
    let env = Env::start().await;
    let mut request = Request::new(GetValueRequest { key: "k".into() });
    request
        .metadata_mut()
        .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    env.service.values().get_value(request).await.unwrap();
}
