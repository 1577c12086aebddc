//! TLS and mutual TLS for gRPC, a plaintext health port beside them, TLS
//! to Redis, a least-privilege Redis ACL user, and message size limits.

use rmw::proto::v1::{
    AcquireRequest, AcquireResponse, AdjustCounterRequest, CommitHoldRequest,
    CompareAndSwapRequest, ConsumeQuotaRequest, CreditRequest, Fence, GetLeaseRequest,
    GetScriptStatusRequest, HoldStockRequest, ListHoldsRequest, ListMovementsRequest,
    NextIdsRequest, OrderItem, PlaceOrderRequest, PutRecordRequest, ReleaseRequest, RenewRequest,
    SetStockRequest, StockLevel, TransferRequest, acquire_response,
    compare_and_swap_response as cas, movement, values_service_client::ValuesServiceClient,
};
use tonic::{
    Code,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};

use crate::common::{self, Binary, Env, Service, pki::Pki, unique_prefix};

fn create(key: &str) -> CompareAndSwapRequest {
    CompareAndSwapRequest {
        key: key.into(),
        expected: None,
        new_value: Some(b"v".to_vec()),
        request_id: String::new(),
        fence: None,
    }
}

fn client_tls(pki: &Pki, with_certificate: bool) -> ClientTlsConfig {
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&pki.ca)))
        .domain_name("localhost");
    if with_certificate {
        tls.identity(Identity::from_pem(
            read(&pki.client_cert),
            read(&pki.client_key),
        ))
    } else {
        tls
    }
}

/// Whether a CAS succeeds on `channel` (or the channel could not be made).
async fn cas_works(channel: Result<Channel, tonic::transport::Error>) -> Result<(), String> {
    let channel = channel.map_err(|e| format!("connect: {e}"))?;
    let reply = ValuesServiceClient::new(channel)
        .compare_and_swap(create(&unique_prefix()))
        .await
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?;
    assert_eq!(
        reply.into_inner().outcome,
        Some(cas::Outcome::Swapped(cas::Swapped {}))
    );
    Ok(())
}

/// With a certificate and key, gRPC is TLS only: a client trusting the CA
/// is served, a plaintext client is not; the health port stays plaintext.
#[tokio::test]
async fn tls_serves_encrypted_and_refuses_plaintext() {
    let pki = Pki::new();
    let redis = common::redis(&[]).await;
    let (cert, key) = (Pki::arg(&pki.server_cert), Pki::arg(&pki.server_key));
    let service = Service::start_with(&redis.url(), &["--tls-cert", &cert, "--tls-key", &key])
        .await
        .ready()
        .await;
    cas_works(service.channel_with(Some(client_tls(&pki, false))).await)
        .await
        .unwrap();
    let plaintext = cas_works(service.channel_with(None).await).await;
    println!("plaintext against TLS: {plaintext:?}");
    assert!(plaintext.is_err());
}

/// With a client CA as well, a client without a certificate is refused
/// and one with a certificate the CA signed is served.
#[tokio::test]
async fn mtls_refuses_clients_without_a_certificate() {
    let pki = Pki::new();
    let redis = common::redis(&[]).await;
    let args = pki.mtls_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let service = Service::start_with(&redis.url(), &args).await.ready().await;
    let anonymous = cas_works(service.channel_with(Some(client_tls(&pki, false))).await).await;
    println!("no client certificate under mTLS: {anonymous:?}");
    assert!(anonymous.is_err());
    cas_works(service.channel_with(Some(client_tls(&pki, true))).await)
        .await
        .unwrap();
}

/// `rediss://`: the binary reaches a TLS-only Redis port, checking its
/// certificate against the CA named by `SSL_CERT_FILE`, and every one of
/// its connections is on that port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_tls() {
    let pki = Pki::new();
    let tls_port = common::free_port();
    let (cert, key, ca) = (
        Pki::arg(&pki.server_cert),
        Pki::arg(&pki.server_key),
        Pki::arg(&pki.ca),
    );
    let redis = common::redis(&[
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "no",
    ])
    .await;
    let url = format!("rediss://localhost:{tls_port}");
    let binary = Binary::spawn_with_env(
        &["--redis-url", &url, "--key-prefix", &unique_prefix()],
        &[("SSL_CERT_FILE", ca.as_str())],
    )
    .await;
    let r = ValuesServiceClient::new(binary.channel.clone())
        .compare_and_swap(create("k"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.outcome, Some(cas::Outcome::Swapped(cas::Swapped {})));
    let mut conn = common::connect(&redis.url()).await;
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .unwrap();
    let ports: Vec<&str> = clients
        .lines()
        .filter(|l| !l.contains("cmd=client|list"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|f| f.strip_prefix("laddr=127.0.0.1:"))
        })
        .collect();
    println!("rmw's Redis connections arrive on ports {ports:?} (TLS port {tls_port})");
    assert!(!ports.is_empty());
    assert!(
        ports.iter().all(|p| *p == tls_port.to_string()),
        "{clients}"
    );
}

/// Injected: a Redis whose TLS port asks every client for a certificate
/// (`tls-auth-clients yes`). Asserted: the service with its client
/// certificate and key (`--redis-tls-cert`, `--redis-tls-key`) and the test
/// CA (`--redis-tls-ca`, no `SSL_CERT_FILE`) is ready and serves calls over
/// that port; the same service without the certificate is refused by
/// Redis, and AdminService/GetHealth says `redis` is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_mutual_tls() {
    let pki = Pki::new();
    let tls_port = common::free_port();
    let (server_cert, server_key, ca) = (
        Pki::arg(&pki.server_cert),
        Pki::arg(&pki.server_key),
        Pki::arg(&pki.ca),
    );
    let (client_cert, client_key) = (Pki::arg(&pki.client_cert), Pki::arg(&pki.client_key));
    let _redis = common::redis(&[
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &server_cert,
        "--tls-key-file",
        &server_key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "yes",
    ])
    .await;
    let url = format!("rediss://localhost:{tls_port}");
    let with = Service::start_with(
        &url,
        &[
            "--redis-tls-cert",
            &client_cert,
            "--redis-tls-key",
            &client_key,
            "--redis-tls-ca",
            &ca,
        ],
    )
    .await
    .ready()
    .await;
    let r = with
        .values()
        .compare_and_swap(create("k"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.outcome, Some(cas::Outcome::Swapped(cas::Swapped {})));

    let without = Service::start_with(&url, &["--redis-tls-ca", &ca]).await;
    // Until the first check has run, nothing is known; then Redis's refusal
    // is what it reports.
    let started = std::time::Instant::now();
    let redis = loop {
        let health = without
            .admin()
            .get_health(rmw::proto::v1::GetHealthRequest {})
            .await
            .unwrap()
            .into_inner();
        let redis = health.components[0].clone();
        if redis.detail != "not checked yet" {
            break redis;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "never checked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    println!("without a client certificate: {redis:?}");
    assert!(!redis.serving, "{redis:?}");
    let status = without
        .values()
        .compare_and_swap(create("k2"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

/// Runs each service once, and a script reload, as `service`'s Redis user.
/// Every lease script, and a write fenced by a grant: a waiter woken by
/// the release (its doorbell's XREAD), a stale token refused.
async fn leases_and_a_fenced_write(service: &Service) {
    let mut leases = service.leases();
    let acquire = |owner: &str, wait: bool| AcquireRequest {
        name: "lock{l}".into(),
        owner: owner.into(),
        ttl: Some(prost_types::Duration {
            seconds: 10,
            nanos: 0,
        }),
        limit: 1,
        wait,
        request_id: String::new(),
    };
    let token = |reply: AcquireResponse| match reply.outcome {
        Some(acquire_response::Outcome::Acquired(grant)) => grant.token,
        other => panic!("{other:?}"),
    };
    let first = token(
        leases
            .acquire(acquire("a", false))
            .await
            .unwrap()
            .into_inner(),
    );
    leases
        .renew(RenewRequest {
            name: "lock{l}".into(),
            token: first,
            ttl: Some(prost_types::Duration {
                seconds: 20,
                nanos: 0,
            }),
        })
        .await
        .unwrap();
    let waiter = {
        let mut leases = leases.clone();
        let request = acquire("b", true);
        tokio::spawn(async move { leases.acquire(request).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    leases
        .release(ReleaseRequest {
            name: "lock{l}".into(),
            token: first,
        })
        .await
        .unwrap();
    let second = token(waiter.await.unwrap().unwrap().into_inner());
    leases
        .get_lease(GetLeaseRequest {
            name: "lock{l}".into(),
        })
        .await
        .unwrap();
    let mut values = service.values();
    let fenced = |token: u64| CompareAndSwapRequest {
        fence: Some(Fence {
            lease: "lock{l}".into(),
            token,
        }),
        ..create("v{l}")
    };
    let stale = values
        .compare_and_swap(fenced(first))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(stale.outcome, Some(cas::Outcome::Fenced(_))),
        "{stale:?}"
    );
    let current = values
        .compare_and_swap(fenced(second))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(current.outcome, Some(cas::Outcome::Swapped(_))),
        "{current:?}"
    );
}

/// Every hold script, the sweep's included: a hold committed, holds
/// listed a page at a time, and a 1 ms hold that the sweep ends.
async fn holds_and_their_sweep(service: &Service) {
    let mut inventory = service.inventory();
    let hold = |hold_id: &str, ms: i32| HoldStockRequest {
        store: "s".into(),
        hold_id: hold_id.into(),
        items: vec![OrderItem {
            product: "p".into(),
            quantity: 1,
        }],
        ttl: Some(prost_types::Duration {
            seconds: 0,
            nanos: ms * 1_000_000,
        }),
        fence: None,
    };
    inventory.hold_stock(hold("h1", 900)).await.unwrap();
    inventory.hold_stock(hold("h2", 900)).await.unwrap();
    let first = inventory
        .list_holds(ListHoldsRequest {
            store: "s".into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    inventory
        .list_holds(ListHoldsRequest {
            store: "s".into(),
            page_size: 1,
            page_token: first.next_page_token,
        })
        .await
        .unwrap();
    for hold_id in ["h1", "h2"] {
        inventory
            .commit_hold(CommitHoldRequest {
                store: "s".into(),
                hold_id: hold_id.into(),
                items: vec![],
                request_id: String::new(),
                fence: None,
            })
            .await
            .unwrap();
    }
    inventory.hold_stock(hold("h3", 1)).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let movements = inventory
            .list_movements(ListMovementsRequest {
                store: "s".into(),
                product: String::new(),
                page_size: 1,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .movements;
        if movements[0].kind() == movement::Kind::Expire {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no sweep in 20s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn every_operation(service: &Service, admin: &mut redis::aio::MultiplexedConnection) {
    let mut values = service.values();
    values.compare_and_swap(create("k")).await.unwrap();
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(admin)
        .await
        .unwrap();
    values.compare_and_swap(create("k2")).await.unwrap();
    service
        .records()
        .put_record(PutRecordRequest {
            key: "r".into(),
            value: b"v".to_vec(),
            expected_version: 0,
            request_id: "p1".into(),
            fence: None,
        })
        .await
        .unwrap();
    // A journaled tag and a watch of it: XINFO, XRANGE, XGROUP and the
    // doorbell's XREAD.
    let mut records = service.records();
    records
        .enable_journal(rmw::proto::v1::EnableJournalRequest { tag: "t".into() })
        .await
        .unwrap();
    let mut watch = records
        .watch_records(rmw::proto::v1::WatchRecordsRequest {
            tag: "t".into(),
            from_id: String::new(),
            start: rmw::proto::v1::WatchStart::Now.into(),
        })
        .await
        .unwrap()
        .into_inner();
    records
        .put_record(PutRecordRequest {
            key: "x{t}".into(),
            value: b"v".to_vec(),
            expected_version: 0,
            request_id: String::new(),
            fence: None,
        })
        .await
        .unwrap();
    let change = tokio::time::timeout(std::time::Duration::from_secs(20), watch.message())
        .await
        .expect("a change in time")
        .unwrap()
        .unwrap();
    assert!(change.event.is_some());
    records
        .disable_journal(rmw::proto::v1::DisableJournalRequest { tag: "t".into() })
        .await
        .unwrap();
    let mut inventory = service.inventory();
    inventory
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
    inventory
        .place_order(PlaceOrderRequest {
            store: "s".into(),
            order_id: "o".into(),
            items: vec![OrderItem {
                product: "p".into(),
                quantity: 1,
            }],
        })
        .await
        .unwrap();
    let mut counters = service.counters();
    counters
        .adjust_counter(AdjustCounterRequest {
            name: "c".into(),
            amount: 1,
            min: None,
            max: None,
            request_id: String::new(),
        })
        .await
        .unwrap();
    counters
        .consume_quota(ConsumeQuotaRequest {
            name: "q".into(),
            amount: 1,
            daily_limit: 5,
            utc_offset_minutes: 0,
            request_id: String::new(),
        })
        .await
        .unwrap();
    let mut ledger = service.ledger();
    ledger
        .credit(CreditRequest {
            book: "b".into(),
            account: "a".into(),
            amount: 10,
            reference: String::new(),
            description: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    ledger
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
        .unwrap();
    service
        .sequences()
        .next_ids(NextIdsRequest {
            name: "n".into(),
            count: 2,
            request_id: String::new(),
        })
        .await
        .unwrap();
    // Every script loaded again, by the calls or by the health check,
    // whose SCRIPT EXISTS answered before a reload may say "missing" until
    // its next round: waited for, within a bound.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let status = service
            .admin()
            .get_script_status(GetScriptStatusRequest {})
            .await
            .unwrap()
            .into_inner();
        if status.scripts.iter().all(|s| s.nodes[0].loaded) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "scripts not loaded: {:?}",
            status
                .scripts
                .iter()
                .filter(|s| !s.nodes[0].loaded)
                .map(|s| &s.name)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The ACL user of `deploy/redis/rmw.acl` (quoted in the README) runs
/// every operation, the health check and a script reload — and cannot
/// touch a key outside the prefix, or run anything else.
#[tokio::test]
async fn acl_user_runs_every_operation_and_nothing_else() {
    let rule =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/redis/rmw.acl"))
            .unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let rule = rule.trim();
    assert!(
        readme.contains(rule),
        "README must quote deploy/redis/rmw.acl"
    );

    let redis = common::redis(&[]).await;
    let mut admin = common::connect(&redis.url()).await;
    let setuser: Vec<String> = rule
        .trim_start_matches("user ")
        .replace("CHANGE-ME", "s3cret")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&setuser)
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = format!("redis://rmw:s3cret@127.0.0.1:{}", redis.port());
    let service = Service::start_with(
        &url,
        &["--key-prefix", "rmw", "--hold-sweep-interval", "20ms"],
    )
    .await
    .ready()
    .await;

    every_operation(&service, &mut admin).await;
    holds_and_their_sweep(&service).await;
    leases_and_a_fenced_write(&service).await;

    // As the ACL user, directly: keys outside the prefix and other
    // commands are refused.
    let mut user = common::connect(&url).await;
    let sha = rmw::redis::Script::ValuesGet.sha();
    for command in [
        redis::cmd("EVALSHA")
            .arg(sha)
            .arg(1)
            .arg("other:val:k")
            .clone(),
        redis::cmd("GET").arg("other:key").clone(),
        redis::cmd("FLUSHALL").clone(),
        redis::cmd("KEYS").arg("*").clone(),
        redis::cmd("CONFIG").arg("GET").arg("*").clone(),
    ] {
        let refused: redis::RedisResult<redis::Value> = command.query_async(&mut user).await;
        let error = refused.expect_err("the ACL should refuse this");
        assert_eq!(error.code(), Some("NOPERM"), "{error}");
    }
}

/// A request over `--max-message-bytes` is refused with OUT_OF_RANGE
/// before it is decoded, and nothing is written.
#[tokio::test]
async fn oversized_messages_are_out_of_range() {
    let env = Env::start_with(&[], &["--max-message-bytes", "2048"]).await;
    let mut values = env.service.values();
    let mut big = create("k");
    big.new_value = Some(vec![b'x'; 4096]);
    let status = values.compare_and_swap(big).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(env.snapshot().await.is_empty());
    let mut small = create("k");
    small.new_value = Some(vec![b'x'; 1024]);
    values.compare_and_swap(small).await.unwrap();
}

/// `--max-key-bytes` and `--max-items` move the key and item limits: one
/// past each is INVALID_ARGUMENT naming the field, at the limit is served.
#[tokio::test]
async fn configured_limits_are_enforced() {
    let env = Env::start_with(&[], &["--max-key-bytes", "8", "--max-items", "2"]).await;
    let mut values = env.service.values();
    let status = values
        .compare_and_swap(create("123456789"))
        .await
        .unwrap_err();
    common::assert_invalid(&status, "INVALID_ARGUMENT", &["key"]);
    values.compare_and_swap(create("12345678")).await.unwrap();
    let order = |n: usize| PlaceOrderRequest {
        store: "s".into(),
        order_id: format!("o{n}"),
        items: (0..n)
            .map(|i| OrderItem {
                product: format!("p{i}"),
                quantity: 1,
            })
            .collect(),
    };
    let mut inventory = env.service.inventory();
    let status = inventory.place_order(order(3)).await.unwrap_err();
    common::assert_invalid(&status, "INVALID_ARGUMENT", &["items"]);
    inventory.place_order(order(2)).await.unwrap();
}
