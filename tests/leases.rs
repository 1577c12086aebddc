//! LeasesService: grants and their fencing tokens, fenced writes, waiting,
//! semaphores, and tokens across expiries and a Redis restart.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use rmw::proto::v1::{
    AcquireRequest, CompareAndSwapRequest, ConditionalUpdateRequest, DeleteRecordRequest, Fence,
    GetLeaseRequest, GetRecordRequest, PutRecordRequest, ReleaseRequest, RenewRequest, Write,
    acquire_response as acquire, compare_and_swap_response as cas,
    conditional_update_response as update, delete_record_response as delete,
    leases_service_client::LeasesServiceClient, put_record_response as put,
    release_response as release, renew_response as renew,
};
use tonic::{Request, transport::Channel};

use crate::common::{self, Env, Service, assert_invalid, cluster::Cluster};

type Leases = LeasesServiceClient<Channel>;

fn ttl(ms: u64) -> prost_types::Duration {
    prost_types::Duration::try_from(Duration::from_millis(ms)).unwrap()
}

fn acquire_req(name: &str, owner: &str, ttl_ms: u64) -> AcquireRequest {
    AcquireRequest {
        name: name.into(),
        owner: owner.into(),
        ttl: Some(ttl(ttl_ms)),
        limit: 0,
        wait: false,
        request_id: String::new(),
    }
}

/// Acquire's outcome.
async fn try_acquire(c: &mut Leases, request: AcquireRequest) -> acquire::Outcome {
    c.acquire(request)
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

/// Acquire, waiting up to `patience`; the token granted.
async fn acquire_waiting(
    c: &mut Leases,
    name: &str,
    owner: &str,
    ttl_ms: u64,
    patience: Duration,
) -> u64 {
    let mut request = Request::new(AcquireRequest {
        wait: true,
        ..acquire_req(name, owner, ttl_ms)
    });
    request.set_timeout(patience);
    match c
        .acquire(request)
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
    {
        acquire::Outcome::Acquired(grant) => grant.token,
        acquire::Outcome::Held(held) => panic!("{owner}: still held after {patience:?}: {held:?}"),
    }
}

async fn release_token(c: &mut Leases, name: &str, token: u64) -> release::Outcome {
    c.release(ReleaseRequest {
        name: name.into(),
        token,
    })
    .await
    .unwrap()
    .into_inner()
    .outcome
    .unwrap()
}

fn fence(lease: &str, token: u64) -> Fence {
    Fence {
        lease: lease.into(),
        token,
    }
}

/// A lock grants one holder at a time; its tokens increase with every
/// grant; `held` names the holder; release and renew take only a current
/// token; GetLease reads what is granted.
#[tokio::test]
async fn a_lock_grants_increasing_tokens_and_names_its_holder() {
    let env = Env::start().await;
    let mut c = env.service.leases();
    let acquire::Outcome::Acquired(a) = try_acquire(&mut c, acquire_req("job", "a", 10_000)).await
    else {
        panic!("not acquired")
    };
    assert_eq!(a.owner, "a");
    match try_acquire(&mut c, acquire_req("job", "b", 10_000)).await {
        acquire::Outcome::Held(held) => {
            assert_eq!(held.holders.len(), 1);
            assert_eq!(held.holders[0].owner, "a");
            assert_eq!(held.holders[0].token, a.token);
            assert_eq!(held.holders[0].expires_at, a.expires_at);
        }
        other @ acquire::Outcome::Acquired(_) => panic!("{other:?}"),
    }
    let renewed = c
        .renew(RenewRequest {
            name: "job".into(),
            token: a.token,
            ttl: Some(ttl(20_000)),
        })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap();
    let renew::Outcome::Renewed(renewed) = renewed else {
        panic!("{renewed:?}")
    };
    assert!(renewed.expires_at.unwrap().seconds > a.expires_at.unwrap().seconds);
    assert!(matches!(
        release_token(&mut c, "job", a.token).await,
        release::Outcome::Released(_)
    ));
    assert!(matches!(
        release_token(&mut c, "job", a.token).await,
        release::Outcome::Lost(_)
    ));
    let lost = c
        .renew(RenewRequest {
            name: "job".into(),
            token: a.token,
            ttl: Some(ttl(1000)),
        })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap();
    assert!(matches!(lost, renew::Outcome::Lost(_)), "{lost:?}");
    let acquire::Outcome::Acquired(b) = try_acquire(&mut c, acquire_req("job", "b", 10_000)).await
    else {
        panic!("not acquired after the release")
    };
    assert!(b.token > a.token, "{} then {}", a.token, b.token);
    let lease = c
        .get_lease(GetLeaseRequest { name: "job".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lease.last_token, b.token);
    assert_eq!(lease.holders.len(), 1);
    assert_eq!(lease.holders[0].owner, "b");
}

/// A holder whose lease expired (it paused past its ttl) is refused by
/// every fenced write, once another holds the lease: CompareAndSwap,
/// ConditionalUpdate, PutRecord and DeleteRecord answer `fenced` with the
/// current token and write nothing; the current holder's writes apply.
#[tokio::test]
async fn every_fenced_write_refuses_a_stale_token() {
    let env = Env::start().await;
    let mut c = env.service.leases();
    let (mut values, mut records) = (env.service.values(), env.service.records());
    let stale = acquire_waiting(&mut c, "lock{d}", "a", 200, Duration::from_secs(5)).await;
    let put_doc = |expected_version: u64, token: u64| PutRecordRequest {
        key: "doc{d}".into(),
        value: format!("by {token}").into_bytes(),
        expected_version,
        request_id: String::new(),
        fence: Some(fence("lock{d}", token)),
    };
    let written = records
        .put_record(put_doc(0, stale))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(written.outcome, Some(put::Outcome::Written(_))),
        "{written:?}"
    );

    // "a" pauses past its ttl; "b" takes the lock.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let current = acquire_waiting(&mut c, "lock{d}", "b", 10_000, Duration::from_secs(5)).await;
    assert!(current > stale);
    let before = env.snapshot().await;

    let r = records
        .put_record(put_doc(1, stale))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(put::Outcome::Fenced(rmw::proto::v1::Fenced {
            current_token: current
        }))
    );
    let r = records
        .delete_record(DeleteRecordRequest {
            key: "doc{d}".into(),
            expected_version: 1,
            request_id: String::new(),
            fence: Some(fence("lock{d}", stale)),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(r.outcome, Some(delete::Outcome::Fenced(f)) if f.current_token == current),
        "{r:?}"
    );
    let create_v = |lease: &str, token: u64| CompareAndSwapRequest {
        key: "v{d}".into(),
        expected: None,
        new_value: Some(b"x".to_vec()),
        request_id: String::new(),
        fence: Some(fence(lease, token)),
    };
    let r = values
        .compare_and_swap(create_v("lock{d}", stale))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(r.outcome, Some(cas::Outcome::Fenced(f)) if f.current_token == current),
        "{r:?}"
    );
    let r = values
        .conditional_update(ConditionalUpdateRequest {
            conditions: vec![],
            writes: vec![Write {
                key: "v{d}".into(),
                value: Some(b"x".to_vec()),
            }],
            request_id: String::new(),
            fence: Some(fence("lock{d}", stale)),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(r.outcome, Some(update::Outcome::Fenced(f)) if f.current_token == current),
        "{r:?}"
    );
    assert_eq!(
        env.snapshot().await,
        before,
        "a fenced write changed something"
    );

    // The current holder writes; a token of another lease is not current.
    let r = records
        .put_record(put_doc(1, current))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(r.outcome, Some(put::Outcome::Written(_))), "{r:?}");
    let r = values
        .compare_and_swap(create_v("other{d}", current))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(r.outcome, Some(cas::Outcome::Fenced(f)) if f.current_token == 0),
        "{r:?}"
    );
}

/// Injected: six workers contend for one lock (ttl 150 ms) and each, in
/// one round of three, pauses 250 ms between its writes without renewing
/// (a stale holder). Asserted, as a history check over the record's
/// versions (the order Redis applied the writes in): the tokens of the
/// accepted fenced writes never decrease, so no write of an older grant
/// landed after a newer grant's; some writes were fenced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_write_of_a_stale_holder_lands_after_a_newer_grant() {
    let env = Env::start().await;
    let accepted: Arc<std::sync::Mutex<Vec<(u64, u64)>>> = Arc::default();
    let fenced = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..6 {
        let (mut c, mut records) = (env.service.leases(), env.service.records());
        let (accepted, fenced) = (Arc::clone(&accepted), Arc::clone(&fenced));
        workers.push(tokio::spawn(async move {
            for round in 0..6 {
                let token = acquire_waiting(
                    &mut c,
                    "lock{h}",
                    &format!("w{w}"),
                    150,
                    Duration::from_secs(20),
                )
                .await;
                for write in 0..3 {
                    if (w + round) % 3 == 0 && write == 1 {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    let current = records
                        .get_record(GetRecordRequest {
                            key: "doc{h}".into(),
                        })
                        .await
                        .unwrap()
                        .into_inner()
                        .version;
                    let reply = records
                        .put_record(PutRecordRequest {
                            key: "doc{h}".into(),
                            value: format!("w{w} token {token}").into_bytes(),
                            expected_version: current,
                            request_id: String::new(),
                            fence: Some(fence("lock{h}", token)),
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    match reply.outcome.unwrap() {
                        put::Outcome::Written(written) => {
                            accepted.lock().unwrap().push((written.version, token));
                        }
                        put::Outcome::Fenced(_) => {
                            fenced.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        put::Outcome::VersionMismatch(_) => {}
                    }
                }
                release_token(&mut c, "lock{h}", token).await;
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let mut history = accepted.lock().unwrap().clone();
    history.sort_unstable();
    let fenced = fenced.load(Ordering::Relaxed);
    println!(
        "fenced history: {} writes accepted, {fenced} refused as stale",
        history.len()
    );
    for pair in history.windows(2) {
        assert!(
            pair[0].1 <= pair[1].1,
            "version {} by token {} landed after version {} by token {}",
            pair[1].0,
            pair[1].1,
            pair[0].0,
            pair[0].1
        );
    }
    assert!(
        fenced > 0,
        "no stale holder was fenced: the test injected nothing"
    );
    assert!(history.len() >= 36, "{} writes accepted", history.len());
}

/// Injected: 10,000 grants by four workers, each over four names of its
/// own, with random 1–4 ms ttls (most expire, some are released), and a
/// SIGKILL of Redis (AOF always) and its restart half-way, grants in
/// flight. Asserted: per name, each grant's token is above the one before
/// (so none is given twice; tokens of different names may be equal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_never_repeat_across_expiries_and_a_redis_restart() {
    const GRANTS: u64 = 10_000;
    let mut env = Env::start_with(&["--appendonly", "yes", "--appendfsync", "always"], &[]).await;
    let granted = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..4_u64 {
        let mut c = env.service.leases();
        let granted = Arc::clone(&granted);
        workers.push(tokio::spawn(async move {
            let mut last: BTreeMap<String, u64> = BTreeMap::new();
            let mut rng = 0x9e37_79b9_7f4a_7c15_u64 ^ w;
            while granted.load(Ordering::Relaxed) < GRANTS {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let name = format!("n{w}-{}", rng % 4);
                let mut request = Request::new(AcquireRequest {
                    wait: true,
                    ..acquire_req(&name, "o", 1 + (rng >> 8) % 4)
                });
                request.set_timeout(Duration::from_secs(2));
                // Retried while Redis restarts.
                let Ok(reply) = c.acquire(request).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let acquire::Outcome::Acquired(grant) = reply.into_inner().outcome.unwrap() else {
                    continue;
                };
                let before = last.insert(name.clone(), grant.token).unwrap_or(0);
                assert!(
                    grant.token > before,
                    "{name}: {} after {before}",
                    grant.token
                );
                if (rng >> 20).is_multiple_of(5) {
                    let _ = c
                        .release(ReleaseRequest {
                            name: name.clone(),
                            token: grant.token,
                        })
                        .await;
                }
                granted.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while granted.load(Ordering::Relaxed) < GRANTS / 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let at = granted.load(Ordering::Relaxed);
    env.redis.kill();
    env.redis.restart().await.unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    println!(
        "{} grants, Redis SIGKILLed and restarted after {at}: tokens strictly increasing per name",
        granted.load(Ordering::Relaxed)
    );
}

/// 64 contenders for a semaphore of 3 (ttl 2 s, each holding 2–10 ms):
/// never more than 3 hold it at once, as each holder sees it and as
/// GetLease reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semaphore_never_has_more_holders_than_its_limit() {
    let env = Env::start().await;
    let holding = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..64 {
        let mut c = env.service.leases();
        let (holding, most) = (Arc::clone(&holding), Arc::clone(&most));
        tasks.push(tokio::spawn(async move {
            for _ in 0..4 {
                let mut request = Request::new(AcquireRequest {
                    limit: 3,
                    wait: true,
                    ..acquire_req("pool", &format!("w{w}"), 2000)
                });
                request.set_timeout(Duration::from_secs(30));
                let outcome = c
                    .acquire(request)
                    .await
                    .unwrap()
                    .into_inner()
                    .outcome
                    .unwrap();
                let acquire::Outcome::Acquired(grant) = outcome else {
                    panic!("w{w}: {outcome:?}")
                };
                let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let lease = c
                    .get_lease(GetLeaseRequest {
                        name: "pool".into(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                assert!(lease.holders.len() <= 3, "{lease:?}");
                tokio::time::sleep(Duration::from_millis(2 + w % 9)).await;
                holding.fetch_sub(1, Ordering::SeqCst);
                release_token(&mut c, "pool", grant.token).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let most = most.load(Ordering::SeqCst);
    println!("semaphore of 3, 64 contenders, 256 grants: at most {most} held at once");
    assert!((2..=3).contains(&most), "{most}");
}

/// A waiter is woken by a release at once (long before the holder's
/// expiry), on this instance and on another; waiters of one instance are
/// granted in arrival order; a waiter whose deadline comes first is told
/// `held`; one waiting on an unreleased grant gets it at its expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_woken_by_a_release_in_order_and_by_expiry() {
    let env = Env::start().await;
    let other = env.service.beside(&env.redis.url()).await.ready().await;
    let mut c = env.service.leases();
    let holder = acquire_waiting(&mut c, "q", "holder", 30_000, Duration::from_secs(1)).await;

    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    let here = env.service.metrics_addr;
    for (i, (client, metrics, queued)) in [
        (env.service.leases(), here, 1.0),
        (env.service.leases(), here, 2.0),
        (other.leases(), other.metrics_addr, 1.0),
    ]
    .into_iter()
    .enumerate()
    {
        let order = Arc::clone(&order);
        waiters.push(tokio::spawn(async move {
            let mut c = client;
            let token = acquire_waiting(
                &mut c,
                "q",
                &format!("w{i}"),
                30_000,
                Duration::from_secs(20),
            )
            .await;
            order.lock().unwrap().push(i);
            let started = Instant::now();
            tokio::time::sleep(Duration::from_millis(50)).await;
            release_token(&mut c, "q", token).await;
            started
        }));
        // Each queued (its instance counts it waiting) before the next
        // arrives.
        waiting_reaches(metrics, queued).await;
    }
    // A waiter whose deadline passes first is told who holds the lease.
    let mut short = Request::new(AcquireRequest {
        wait: true,
        ..acquire_req("q", "short", 1000)
    });
    short.set_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let outcome = c
        .acquire(short)
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap();
    assert!(
        matches!(&outcome, acquire::Outcome::Held(h) if h.holders[0].owner == "holder"),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    let released = Instant::now();
    release_token(&mut c, "q", holder).await;
    for waiter in waiters {
        waiter.await.unwrap();
    }
    let took = released.elapsed();
    let order = order.lock().unwrap().clone();
    println!(
        "3 waiters (2 here, 1 on another instance) granted in order {order:?}, all within {took:?} of the first release"
    );
    // Three grants of 50 ms each, woken by releases: far below a 30 s ttl.
    assert!(took < Duration::from_secs(3), "{took:?}");
    // First come first granted among this instance's waiters; the other
    // instance's may come before or between them (docs/LEASES.md).
    let mine: Vec<usize> = order.iter().copied().filter(|&i| i < 2).collect();
    assert_eq!(mine, [0, 1], "this instance's waiters out of order");

    // Expiry: a grant nobody releases frees its place when it expires.
    let _ = acquire_waiting(&mut c, "x", "gone", 300, Duration::from_secs(1)).await;
    let started = Instant::now();
    acquire_waiting(&mut c, "x", "next", 1000, Duration::from_secs(5)).await;
    let waited = started.elapsed();
    println!("a waiter behind an unreleased 300 ms grant got it after {waited:?}");
    waiting_reaches(here, 0.0).await;
    waiting_reaches(other.metrics_addr, 0.0).await;
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

/// Bad input is INVALID_ARGUMENT, naming the field.
#[tokio::test]
async fn refuses_malformed_lease_requests() {
    let env = Env::start().await;
    let mut c = env.service.leases();
    for (request, field) in [
        (acquire_req("job", "a", 0), "ttl"),
        (
            AcquireRequest {
                ttl: Some(ttl(25 * 3600 * 1000)),
                ..acquire_req("job", "a", 1)
            },
            "ttl",
        ),
        (
            AcquireRequest {
                ttl: None,
                ..acquire_req("job", "a", 1)
            },
            "ttl",
        ),
        (acquire_req("job", "", 1000), "owner"),
        (acquire_req("", "a", 1000), "name"),
        (acquire_req("a{b", "a", 1000), "name"),
        (
            AcquireRequest {
                limit: 1001,
                ..acquire_req("job", "a", 1000)
            },
            "limit",
        ),
    ] {
        let status = c.acquire(request).await.unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", &[field]);
    }
    let status = c
        .renew(RenewRequest {
            name: "job".into(),
            token: 0,
            ttl: Some(ttl(1000)),
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["token"]);
    let status = c
        .release(ReleaseRequest {
            name: "job".into(),
            token: 0,
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["token"]);
    let status = env
        .service
        .values()
        .compare_and_swap(CompareAndSwapRequest {
            key: "k".into(),
            expected: None,
            new_value: Some(b"v".to_vec()),
            request_id: String::new(),
            fence: Some(fence("", 0)),
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["fence.lease", "fence.token"]);
}

/// Injected: SIGKILL of the primary serving a lease's slot (node timeout
/// 1 s) while a worker keeps acquiring and releasing it (2 ms grants,
/// retried while the cluster fails over). Asserted: every grant the
/// worker was answered, before and after the failover, has a token above
/// the one before: the grants the dead primary had not replicated are
/// lost with it, but their tokens are not given again (the token is at
/// least Redis's clock × 1024, and the nodes share this host's clock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_keep_increasing_across_a_cluster_failover() {
    let mut cluster = Cluster::start_with_node_timeout(Duration::from_secs(1)).await;
    let service = Service::start_with(&cluster.urls(), &[])
        .await
        .ready()
        .await;
    let mut c = service.leases();
    let stop = Arc::new(AtomicUsize::new(0));
    let worker = {
        let mut c = c.clone();
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut tokens = Vec::new();
            let mut failures = 0;
            // Grants since it was told of the kill: 100 of them end it.
            let mut after = 0;
            while after < 100 {
                let mut request = Request::new(acquire_req("lock{f}", "w", 2));
                request.set_timeout(Duration::from_secs(1));
                match c.acquire(request).await.map(|r| r.into_inner().outcome) {
                    Ok(Some(acquire::Outcome::Acquired(grant))) => {
                        tokens.push(grant.token);
                        after += usize::from(stop.load(Ordering::Relaxed) == 1);
                    }
                    Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
                    Err(_) => {
                        failures += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (tokens, failures)
        })
    };
    while c
        .get_lease(GetLeaseRequest {
            name: "lock{f}".into(),
        })
        .await
        .map_or(0, |r| r.into_inner().last_token)
        == 0
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seed = cluster.nodes[0].port();
    let slot = rmw::redis::slot::slot(&format!("{}:lse:lock{{f}}", service.prefix));
    let victim = cluster.primary_of(seed, slot).await;
    cluster.kill(victim);
    // The worker goes on through the failover, until 100 more grants.
    stop.store(1, Ordering::Relaxed);
    let (tokens, failures) = worker.await.unwrap();
    for pair in tokens.windows(2) {
        assert!(pair[0] < pair[1], "token {} after {}", pair[1], pair[0]);
    }
    println!(
        "{} grants across a primary's SIGKILL and failover ({failures} calls failed meanwhile): tokens strictly increasing",
        tokens.len()
    );
    assert!(failures > 0, "the failover was not in the worker's path");
}

/// Holds are fenced too: HoldStock, CommitHold, ReleaseHold, HoldFunds,
/// PostHold and VoidHold with a token that is not current answer `fenced`
/// and change nothing; with the current token they go through.
#[tokio::test]
async fn holds_are_fenced_too() {
    use rmw::proto::v1::{
        CommitHoldRequest, CreditRequest, HoldFundsRequest, HoldStockRequest, OrderItem,
        PostHoldRequest, ReleaseHoldRequest, SetStockRequest, StockLevel, VoidHoldRequest,
        commit_hold_response as commit, hold_funds_response as funds, hold_stock_response as stock,
        post_hold_response as post, release_hold_response as release_hold,
        void_hold_response as void,
    };
    let env = Env::start().await;
    let mut c = env.service.leases();
    let current = acquire_waiting(&mut c, "lock{s}", "me", 10_000, Duration::from_secs(5)).await;
    let (stale, live) = (Some(fence("lock{s}", 1)), Some(fence("lock{s}", current)));
    let (mut inventory, mut ledger) = (env.service.inventory(), env.service.ledger());
    inventory
        .set_stock(SetStockRequest {
            store: "s".into(),
            levels: vec![StockLevel {
                product: "p".into(),
                quantity: 5,
                ..StockLevel::default()
            }],
            request_id: String::new(),
        })
        .await
        .unwrap();
    ledger
        .credit(CreditRequest {
            book: "s".into(),
            account: "a".into(),
            amount: 100,
            reference: String::new(),
            description: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let hold_stock = |hold_id: &str, fence: Option<Fence>| HoldStockRequest {
        store: "s".into(),
        hold_id: hold_id.into(),
        items: vec![OrderItem {
            product: "p".into(),
            quantity: 2,
        }],
        ttl: Some(ttl(60_000)),
        fence,
    };
    let hold_funds = |hold_id: &str, fence: Option<Fence>| HoldFundsRequest {
        book: "s".into(),
        hold_id: hold_id.into(),
        from_account: "a".into(),
        to_account: "b".into(),
        amount: 10,
        ttl: Some(ttl(60_000)),
        reference: String::new(),
        description: String::new(),
        fence,
    };
    let before = env.snapshot().await;
    let fenced_to = |current_token| Some(rmw::proto::v1::Fenced { current_token });
    let r = inventory
        .hold_stock(hold_stock("h1", stale.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(stock::Outcome::Fenced(fenced_to(current).unwrap()))
    );
    let r = ledger
        .hold_funds(hold_funds("f1", stale.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(funds::Outcome::Fenced(fenced_to(current).unwrap()))
    );
    assert_eq!(
        env.snapshot().await,
        before,
        "a fenced hold changed something"
    );

    let r = inventory
        .hold_stock(hold_stock("h1", live.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(r.outcome, Some(stock::Outcome::Held(_))), "{r:?}");
    let r = ledger
        .hold_funds(hold_funds("f1", live.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(r.outcome, Some(funds::Outcome::Held(_))), "{r:?}");

    let before = env.snapshot().await;
    let commit_req = |fence: Option<Fence>| CommitHoldRequest {
        store: "s".into(),
        hold_id: "h1".into(),
        items: vec![],
        request_id: String::new(),
        fence,
    };
    let r = inventory
        .commit_hold(commit_req(stale.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(r.outcome, Some(commit::Outcome::Fenced(_))),
        "{r:?}"
    );
    let r = inventory
        .release_hold(ReleaseHoldRequest {
            store: "s".into(),
            hold_id: "h1".into(),
            request_id: String::new(),
            fence: stale.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(r.outcome, Some(release_hold::Outcome::Fenced(_))),
        "{r:?}"
    );
    let post_req = |fence: Option<Fence>| PostHoldRequest {
        book: "s".into(),
        hold_id: "f1".into(),
        amount: 0,
        reference: String::new(),
        description: String::new(),
        request_id: String::new(),
        fence,
    };
    let r = ledger
        .post_hold(post_req(stale.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(r.outcome, Some(post::Outcome::Fenced(_))), "{r:?}");
    let r = ledger
        .void_hold(VoidHoldRequest {
            book: "s".into(),
            hold_id: "f1".into(),
            request_id: String::new(),
            fence: stale,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(r.outcome, Some(void::Outcome::Fenced(_))), "{r:?}");
    assert_eq!(
        env.snapshot().await,
        before,
        "a fenced end changed something"
    );

    let r = inventory
        .commit_hold(commit_req(live.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(r.outcome, Some(commit::Outcome::Committed(_))),
        "{r:?}"
    );
    let r = ledger.post_hold(post_req(live)).await.unwrap().into_inner();
    assert!(matches!(r.outcome, Some(post::Outcome::Posted(_))), "{r:?}");
}

/// Waits (bounded) until `rmw_lease_waiters` at `metrics` reads `n`.
async fn waiting_reaches(metrics: std::net::SocketAddr, n: f64) {
    let started = Instant::now();
    loop {
        let now = common::sample(&common::scrape(metrics).await, "rmw_lease_waiters");
        if now == Some(n) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "rmw_lease_waiters stayed {now:?}, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Injected: a waiting caller that goes away (its call dropped) while the
/// lease is held. Asserted: the service stops counting it and the next
/// waiter is served as if it had never queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_that_goes_away_leaves_the_queue() {
    let env = Env::start().await;
    let metrics = env.service.metrics_addr;
    let mut c = env.service.leases();
    let holder = acquire_waiting(&mut c, "g", "holder", 30_000, Duration::from_secs(1)).await;
    let gone = {
        let mut c = c.clone();
        tokio::spawn(async move {
            acquire_waiting(&mut c, "g", "gone", 30_000, Duration::from_secs(20)).await
        })
    };
    waiting_reaches(metrics, 1.0).await;
    gone.abort();
    waiting_reaches(metrics, 0.0).await;
    release_token(&mut c, "g", holder).await;
    let next = acquire_waiting(&mut c, "g", "next", 30_000, Duration::from_secs(5)).await;
    assert!(next > holder);
}

/// Injected: a second waiting caller while `--max-lease-waiters 1` is
/// already taken. Asserted: it is refused at once with RESOURCE_EXHAUSTED
/// / TOO_MANY_WAITERS and a retry delay, a caller that does not wait is
/// still answered `held`, and the place is free again once the first
/// waiter is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_beyond_the_limit_are_refused_not_queued() {
    let env = Env::start_with(&[], &["--max-lease-waiters", "1"]).await;
    let metrics = env.service.metrics_addr;
    let mut c = env.service.leases();
    let holder = acquire_waiting(&mut c, "w", "holder", 30_000, Duration::from_secs(1)).await;
    let first = {
        let mut c = c.clone();
        tokio::spawn(async move {
            acquire_waiting(&mut c, "w", "first", 30_000, Duration::from_secs(20)).await
        })
    };
    waiting_reaches(metrics, 1.0).await;

    let started = Instant::now();
    let mut second = Request::new(AcquireRequest {
        wait: true,
        ..acquire_req("w", "second", 30_000)
    });
    second.set_timeout(Duration::from_secs(20));
    let status = c.acquire(second).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "it waited");
    common::assert_error(&status, tonic::Code::ResourceExhausted, "TOO_MANY_WAITERS");
    let details = tonic_types::StatusExt::get_error_details(&status);
    assert!(details.retry_info().is_some(), "{status:?}");
    let outcome = c
        .acquire(acquire_req("w", "no-wait", 30_000))
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap();
    assert!(matches!(outcome, acquire::Outcome::Held(_)), "{outcome:?}");

    release_token(&mut c, "w", holder).await;
    let token = first.await.unwrap();
    waiting_reaches(metrics, 0.0).await;
    let third = {
        let mut c = c.clone();
        tokio::spawn(async move {
            acquire_waiting(&mut c, "w", "third", 30_000, Duration::from_secs(20)).await
        })
    };
    waiting_reaches(metrics, 1.0).await;
    release_token(&mut c, "w", token).await;
    assert!(third.await.unwrap() > token);
}
