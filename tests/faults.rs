//! The fault suite (docs/RELIABILITY.md): each test says what it injects
//! and what it asserts, prints its figures, and stops by itself.
//!
//! Through every fault: nothing acknowledged is lost, nothing is applied
//! twice, nothing is half-written, and every caller gets a prompt answer
//! that is safe to retry (UNAVAILABLE or DEADLINE_EXCEEDED, never UNKNOWN
//! or INTERNAL).

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use redis::aio::MultiplexedConnection;
use rmw::proto::v1::{
    CompareAndSwapRequest, GetValueRequest, compare_and_swap_response as cas,
    get_value_response as get,
};
use tokio::time::{Instant, timeout};
use tonic::{Code, Request};
use tonic_health::pb::health_check_response::ServingStatus;

use crate::common::{
    self, Env, Service,
    load::{Tally, Writers, create},
    proxy::Proxy,
    sample, scrape,
};

/// Every acknowledged key holds its value, read straight from Redis.
async fn assert_all_present(
    conn: &mut MultiplexedConnection,
    prefix: &str,
    acked: &[(String, String)],
) -> usize {
    let mut lost = 0;
    for (key, value) in acked {
        let stored: Option<String> = redis::cmd("GET")
            .arg(format!("{prefix}:val:{key}"))
            .query_async(conn)
            .await
            .unwrap();
        if stored.as_deref() != Some(value.as_str()) {
            lost += 1;
        }
    }
    lost
}

/// Injected: SIGKILL of a redis-server running with `appendonly yes` and
/// `appendfsync always`, under 8 writers, then a restart on the same port
/// and directory. Asserted: callers saw only UNAVAILABLE (with RetryInfo) or
/// DEADLINE_EXCEEDED while it was down; readiness went NOT_SERVING and back
/// without a service restart; 0 acknowledged writes lost; writes succeed
/// after recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_under_load() {
    let mut env = Env::start_with(&["--appendonly", "yes", "--appendfsync", "always"], &[]).await;
    let writers = Writers::start(&env.service.channel, 8);
    writers.wait_for(200, Duration::from_secs(20)).await;

    env.redis.kill();
    let killed = Instant::now();
    env.service
        .wait_health("", ServingStatus::NotServing, Duration::from_secs(10))
        .await;
    let noticed = killed.elapsed();
    env.redis.restart().await.unwrap();
    let restarted = Instant::now();
    let to_serving = env
        .service
        .wait_health("", ServingStatus::Serving, Duration::from_secs(10))
        .await;
    writers.wait_for(200, Duration::from_secs(20)).await;
    let to_writes = restarted.elapsed();
    let (acked, _failed, tally) = writers.stop().await;

    let lost = assert_all_present(&mut env.conn().await, &env.service.prefix, &acked).await;
    println!(
        "redis SIGKILL + restart (AOF always): {} acknowledged writes, {lost} lost; answers {:?}; NOT_SERVING {noticed:?} after the kill; SERVING {to_serving:?} and writing again {to_writes:?} after the restart",
        acked.len(),
        tally.get()
    );
    tally.assert_retry_safe();
    assert_eq!(lost, 0);
    let mut values = env.service.values();
    values.compare_and_swap(create("after", "x")).await.unwrap();
}

/// Injected: `SCRIPT FLUSH` 30 times, every 20 ms, under 8 callers
/// incrementing 4 counters through read + CAS loops. Asserted: 0 errors
/// seen by callers (each NOSCRIPT was reloaded and retried invisibly) and
/// each counter equals its acknowledged swaps (nothing ran twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_flush_under_load_is_invisible() {
    let env = Env::start().await;
    let stop = Arc::new(AtomicBool::new(false));
    let swaps: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());
    let tally = Arc::new(Tally::default());
    let mut tasks = Vec::new();
    for caller in 0..8_usize {
        let mut values = env.service.values();
        let (stop, swaps, tally) = (Arc::clone(&stop), Arc::clone(&swaps), Arc::clone(&tally));
        tasks.push(tokio::spawn(async move {
            let counter = caller % 4;
            let key = format!("counter{counter}");
            while !stop.load(Ordering::Relaxed) {
                let current = match values.get_value(GetValueRequest { key: key.clone() }).await {
                    Ok(r) => match r.into_inner().outcome {
                        Some(get::Outcome::Value(v)) => Some(v),
                        _ => None,
                    },
                    Err(status) => {
                        tally.add(status.code());
                        continue;
                    }
                };
                let n: u64 = current
                    .as_deref()
                    .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
                let request = CompareAndSwapRequest {
                    key: key.clone(),
                    expected: current,
                    new_value: Some((n + 1).to_string().into_bytes()),
                    request_id: String::new(),
                    fence: None,
                };
                match values.compare_and_swap(request).await {
                    Ok(r) => {
                        tally.add(Code::Ok);
                        if matches!(r.into_inner().outcome, Some(cas::Outcome::Swapped(_))) {
                            swaps[counter].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(status) => tally.add(status.code()),
                }
            }
        }));
    }
    let mut conn = env.conn().await;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let reloads = sample(
        &scrape(env.service.metrics_addr).await,
        &format!(
            "rmw_script_reloads_total{{script=\"values_cas\",node=\"127.0.0.1:{}\"}}",
            env.redis.port()
        ),
    )
    .unwrap();
    let mut values = env.service.values();
    let mut total = 0;
    for (counter, swapped) in swaps.iter().enumerate() {
        let stored = match values
            .get_value(GetValueRequest {
                key: format!("counter{counter}"),
            })
            .await
            .unwrap()
            .into_inner()
            .outcome
        {
            Some(get::Outcome::Value(v)) => String::from_utf8(v).unwrap().parse::<u64>().unwrap(),
            _ => 0,
        };
        assert_eq!(
            stored,
            swapped.load(Ordering::Relaxed),
            "counter{counter} ran twice or lost"
        );
        total += stored;
    }
    println!(
        "SCRIPT FLUSH x30 under load: {total} swaps applied exactly once; answers {:?}; values_cas reloaded {reloads} times",
        tally.get()
    );
    assert_eq!(tally.get().keys().collect::<Vec<_>>(), vec!["Ok"]);
    assert!(reloads >= 1.0);
}

/// Sends `calls` concurrent CAS calls with a `deadline`, over a client that
/// leaves the deadline to the server; returns each one's code and latency.
/// Each client's connection is opened first (a malformed request, refused
/// before Redis), so the clock measures the server's deadline and not 20
/// TCP and HTTP/2 handshakes racing on a busy machine.
async fn burst(service: &Service, calls: usize, deadline: Duration) -> Vec<(Code, Duration)> {
    let mut tasks = Vec::new();
    for i in 0..calls {
        let mut values = service.values_without_local_deadline();
        let refused = values
            .compare_and_swap(CompareAndSwapRequest::default())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        tasks.push(tokio::spawn(async move {
            let mut request = Request::new(create(
                &format!("burst-{i}-{}", common::unique_prefix()),
                "v",
            ));
            request.set_timeout(deadline);
            let started = Instant::now();
            let code = match values.compare_and_swap(request).await {
                Ok(_) => Code::Ok,
                Err(status) => status.code(),
            };
            (code, started.elapsed())
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// Asserts every call of a burst during a stall answered by its deadline
/// plus 50 ms, with DEADLINE_EXCEEDED or UNAVAILABLE.
fn assert_prompt(what: &str, results: &[(Code, Duration)], deadline: Duration) {
    let slowest = results.iter().map(|r| r.1).max().unwrap();
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    for (code, _) in results {
        *codes.entry(format!("{code:?}")).or_default() += 1;
    }
    println!(
        "{what}: {} calls with a {deadline:?} deadline answered {codes:?}, the slowest in {slowest:?}",
        results.len()
    );
    for (code, took) in results {
        assert!(
            matches!(code, Code::DeadlineExceeded | Code::Unavailable),
            "{what}: {code:?}"
        );
        assert!(
            *took <= deadline + Duration::from_millis(50),
            "{what}: answered in {took:?}"
        );
    }
}

/// Waits until a fresh connection's PING gets no answer within 50 ms.
async fn wait_stalled(url: &str) {
    let started = Instant::now();
    loop {
        let probe = async {
            let mut conn = common::connect(url).await;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        if timeout(Duration::from_millis(50), probe).await.is_err() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "redis never stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The pool holds at most its size in connections.
async fn assert_pool_bounded(service: &Service, size: f64) {
    let open = sample(
        &scrape(service.metrics_addr).await,
        "rmw_redis_pool_connections{state=\"open\"}",
    )
    .unwrap();
    assert!(open <= size, "{open} pooled connections");
}

/// Injected: Redis stalled by `DEBUG SLEEP 1.5`, then by `CLIENT PAUSE 1500
/// ALL`. Asserted: 20 concurrent calls with a 300 ms deadline each answer
/// DEADLINE_EXCEEDED or UNAVAILABLE within 350 ms; the pool stays at its
/// size; calls succeed once Redis answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_redis_answers_by_the_deadline() {
    let env = Env::start_with(&["--enable-debug-command", "local"], &[]).await;
    let deadline = Duration::from_millis(300);
    for (what, command) in [
        (
            "DEBUG SLEEP 1.5",
            redis::cmd("DEBUG").arg("SLEEP").arg(1.5).clone(),
        ),
        (
            "CLIENT PAUSE 1500 ALL",
            redis::cmd("CLIENT")
                .arg("PAUSE")
                .arg(1500)
                .arg("ALL")
                .clone(),
        ),
    ] {
        let mut conn = env.conn().await;
        let stall =
            tokio::spawn(async move { command.query_async::<redis::Value>(&mut conn).await });
        wait_stalled(&env.redis.url()).await;
        let results = burst(&env.service, 20, deadline).await;
        assert_prompt(what, &results, deadline);
        let _ = stall.await;
        // Served again once Redis answers (its pause may outlast the call).
        let mut values = env.service.values();
        let mut request = Request::new(create(&common::unique_prefix(), "after"));
        request.set_timeout(Duration::from_secs(5));
        values.compare_and_swap(request).await.unwrap();
        assert_pool_bounded(&env.service, 2.0).await;
    }
}

/// Injected: a black hole between the service and Redis (a proxy holding
/// every byte, closing nothing) for as long as it takes readiness to turn
/// NOT_SERVING. Asserted: calls answer DEADLINE_EXCEEDED or UNAVAILABLE by
/// their deadline + 50 ms; health turns NOT_SERVING; once the hole closes
/// the service is SERVING again and calls succeed; the pool stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_holed_connection_answers_by_the_deadline() {
    let redis = common::redis(&[]).await;
    let proxy = Proxy::start(redis.port()).await;
    let service = Service::start(&proxy.url()).await.ready().await;
    let deadline = Duration::from_millis(300);
    proxy.black_hole(true);
    let results = burst(&service, 20, deadline).await;
    assert_prompt("black hole", &results, deadline);
    let down = service
        .wait_health("", ServingStatus::NotServing, Duration::from_secs(10))
        .await;
    proxy.black_hole(false);
    let back = service
        .wait_health("", ServingStatus::Serving, Duration::from_secs(10))
        .await;
    println!("black hole: NOT_SERVING after {down:?}; SERVING {back:?} after it closed");
    let mut values = service.values();
    values.compare_and_swap(create("after", "v")).await.unwrap();
    assert_pool_bounded(&service, 2.0).await;
}

/// Injected: a pool of one connection, held exclusively by a call that
/// Redis keeps waiting (`CLIENT PAUSE … WRITE`), and 20 more callers with
/// a 200 ms deadline. Asserted: each answers by its deadline + 50 ms (none
/// hangs on the pool), and calls succeed after the pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_exhaustion_answers_by_the_deadline() {
    let env = Env::start_with(
        &[],
        &[
            "--pool-mode",
            "exclusive",
            "--pool-size",
            "1",
            "--pool-wait",
            "5s",
        ],
    )
    .await;
    let mut conn = env.conn().await;
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("WRITE")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut holder = env.service.values();
    let held = tokio::spawn(async move { holder.compare_and_swap(create("holder", "v")).await });
    let results = burst(&env.service, 20, Duration::from_millis(200)).await;
    assert_prompt("pool of 1 held", &results, Duration::from_millis(200));
    held.await.unwrap().unwrap();
    env.service
        .values()
        .compare_and_swap(create("after", "v"))
        .await
        .unwrap();
}

/// Retries a call until it is answered, counting each failure in
/// `tally`: UNAVAILABLE and DEADLINE_EXCEEDED are the only failures a
/// caller may see (`Tally::assert_retry_safe`).
macro_rules! until_answered {
    ($tally:expr, $call:expr) => {{
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            match $call.await {
                Ok(reply) => break reply.into_inner(),
                Err(status) => {
                    $tally.add_failure(&status);
                    assert!(Instant::now() < give_up, "no answer in 30s: {status:?}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }};
}

/// Once 100 holds are acknowledged, SIGKILLs Redis and restarts it (its
/// AOF), waits for 50 more, stops the `workers` and returns the ids they
/// had acknowledged: the holds, and the holds committed or posted.
async fn kill_redis_amid_holds(
    env: &mut Env,
    held: &AtomicU64,
    stop: &AtomicBool,
    workers: Vec<tokio::task::JoinHandle<(Vec<String>, Vec<String>)>>,
) -> (Vec<String>, Vec<String>) {
    // Waits, at most 20 s, until `n` holds have been acknowledged.
    let wait_held = |n: u64| async move {
        let deadline = Instant::now() + Duration::from_secs(20);
        while held.load(Ordering::Relaxed) < n {
            assert!(Instant::now() < deadline, "fewer than {n} holds in 20s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    wait_held(100).await;
    env.redis.kill();
    env.service
        .wait_health("", ServingStatus::NotServing, Duration::from_secs(10))
        .await;
    env.redis.restart().await.unwrap();
    env.service
        .wait_health("", ServingStatus::Serving, Duration::from_secs(10))
        .await;
    wait_held(held.load(Ordering::Relaxed) + 50).await;
    stop.store(true, Ordering::Relaxed);
    let (mut holds, mut ended) = (Vec::new(), Vec::new());
    for worker in workers {
        let (h, e) = worker.await.unwrap();
        holds.extend(h);
        ended.extend(e);
    }
    (holds, ended)
}

/// Injected: SIGKILL of a redis-server (`appendonly yes`, `appendfsync
/// always`) while 16 callers hold stock, commit or release each hold (every
/// call retried with the same ids until answered, as a client must), and
/// let some expire; then a restart on the same port and directory.
/// Asserted: every acknowledged hold and commit is in the journal; every
/// hold ended exactly once; each product's movements chain (levels and
/// held); nothing is held once all are due, and the level is the
/// journal's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_survive_a_redis_kill_and_end_once() {
    use crate::holds::{count_active, hold_request, journal, levels, set_stock_in};
    use rmw::proto::v1::{
        CommitHoldRequest, ReleaseHoldRequest, hold_stock_response as hold, movement::Kind,
    };

    let mut env = Env::start_with(&["--appendonly", "yes", "--appendfsync", "always"], &[]).await;
    let mut c = env.service.inventory();
    set_stock_in(&mut c, "", 1000).await;
    let held = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let workers: Vec<_> = (0..16u64)
        .map(|w| {
            let (mut c, held, stop, tally) =
                (c.clone(), held.clone(), stop.clone(), Arc::clone(&tally));
            tokio::spawn(async move {
                let mut acked = (Vec::new(), Vec::new());
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) && i < 5000 {
                    i += 1;
                    let id = format!("w{w}-{i}");
                    let ms = 100 + ((w * 7 + i * 13) % 300) as i64;
                    let request = hold_request(
                        &id,
                        vec![crate::inventory::item("a", 1 + (i % 3) as i64)],
                        ms,
                    );
                    let reply = until_answered!(tally, c.hold_stock(request.clone()));
                    if !matches!(reply.outcome, Some(hold::Outcome::Held(_))) {
                        continue;
                    }
                    held.fetch_add(1, Ordering::Relaxed);
                    acked.0.push(id.clone());
                    match i % 3 {
                        0 => {
                            let commit = CommitHoldRequest {
                                store: "s1".into(),
                                hold_id: id.clone(),
                                items: vec![],
                                request_id: format!("c-{id}"),
                                fence: None,
                            };
                            let reply = until_answered!(tally, c.commit_hold(commit.clone()));
                            if matches!(
                                reply.outcome,
                                Some(rmw::proto::v1::commit_hold_response::Outcome::Committed(_))
                            ) {
                                acked.1.push(id);
                            }
                        }
                        1 => {
                            let release = ReleaseHoldRequest {
                                store: "s1".into(),
                                hold_id: id,
                                request_id: String::new(),
                                fence: None,
                            };
                            until_answered!(tally, c.release_hold(release.clone()));
                        }
                        _ => {} // left to expire
                    }
                }
                acked
            })
        })
        .collect();
    let (holds, commits) = kill_redis_amid_holds(&mut env, &held, &stop, workers).await;
    tally.assert_retry_safe();

    // Every hold comes due within 400 ms; touch the store until none is
    // left to end.
    while count_active(&env).await > 0 || levels(&mut c, &["a"]).await[0].1 > 0 {
        let units = levels(&mut c, &["a"]).await[0].0;
        set_stock_in(&mut c, "", units).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let moves = journal(&mut c).await;
    let mut ends: BTreeMap<&str, usize> = BTreeMap::new();
    let mut starts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut committed = std::collections::BTreeSet::new();
    let (mut level, mut held_now) = (None, 0);
    for m in &moves {
        assert_eq!(m.after, m.before + m.delta, "{m:?}");
        if let Some(last) = level {
            assert_eq!(m.before, last, "levels chain: {m:?}");
            assert_eq!(m.held, held_now + m.held_delta, "held chains: {m:?}");
        }
        (level, held_now) = (Some(m.after), m.held);
        match m.kind() {
            Kind::Hold => *starts.entry(m.order_id.as_str()).or_default() += 1,
            Kind::Commit => {
                committed.insert(m.order_id.as_str());
                *ends.entry(m.order_id.as_str()).or_default() += 1;
            }
            Kind::Release | Kind::Expire => *ends.entry(m.order_id.as_str()).or_default() += 1,
            _ => {}
        }
    }
    assert_eq!(starts, ends, "every hold ends exactly once");
    for id in &holds {
        assert!(
            starts.contains_key(id.as_str()),
            "acknowledged hold {id} lost"
        );
    }
    for id in &commits {
        assert!(
            committed.contains(id.as_str()),
            "acknowledged commit {id} lost"
        );
    }
    let now = levels(&mut c, &["a"]).await[0];
    assert_eq!((Some(now.0), now.1), (level, 0));
    println!(
        "holds through a Redis SIGKILL (AOF always): {} holds and {} commits acknowledged, 0 lost, each of {} holds ended once; answers {:?}",
        holds.len(),
        commits.len(),
        starts.len(),
        tally.get()
    );
}

/// Injected: SIGKILL of Redis (AOF, `appendfsync always`) while 16 callers
/// hold funds between three accounts, post (all or part), void, or leave
/// holds to expire (TTLs of 100–400 ms); Redis restarts from its AOF.
/// Asserted: every acknowledged hold and post is in the book's journal,
/// every hold ends exactly once (post, void or expire), each account's
/// entries chain and add up to its balance, the posted sum is what was
/// credited (holds move money, never make or lose it), and nothing stays
/// pending; callers only ever see UNAVAILABLE or
/// DEADLINE_EXCEEDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_transfers_survive_a_redis_kill_and_end_once() {
    use crate::pending::{active, balances, credit, hold_request, journal, post_request};
    use rmw::proto::v1::{
        VoidHoldRequest, entry::Kind, hold_funds_response as hold, post_hold_response as post,
    };

    let mut env = Env::start_with(&["--appendonly", "yes", "--appendfsync", "always"], &[]).await;
    let mut c = env.service.ledger();
    let accounts = ["a", "b", "c"];
    for account in accounts {
        credit(&mut c, account, 100).await;
    }
    let held = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let workers: Vec<_> = (0..16u64)
        .map(|w| {
            let (mut c, held, stop, tally) =
                (c.clone(), held.clone(), stop.clone(), Arc::clone(&tally));
            tokio::spawn(async move {
                let mut acked = (Vec::new(), Vec::new());
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && i < 5000 {
                    i += 1;
                    let id = format!("w{w}-{i}");
                    let from = ["a", "b", "c"][((w + i) % 3) as usize];
                    let to = ["a", "b", "c"][((w + i + 1) % 3) as usize];
                    let ms = 100 + ((w * 7 + i * 13) % 300) as i64;
                    let request = hold_request(&id, from, to, 1 + (i % 5) as i64, ms);
                    let reply = until_answered!(tally, c.hold_funds(request.clone()));
                    if !matches!(reply.outcome, Some(hold::Outcome::Held(_))) {
                        continue;
                    }
                    held.fetch_add(1, Ordering::Relaxed);
                    acked.0.push(id.clone());
                    match i % 4 {
                        0 | 1 => {
                            let request = post_request(&id, (i % 2) as i64);
                            let reply = until_answered!(tally, c.post_hold(request.clone()));
                            if matches!(reply.outcome, Some(post::Outcome::Posted(_))) {
                                acked.1.push(id);
                            }
                        }
                        2 => {
                            let void = VoidHoldRequest {
                                book: "b1".into(),
                                hold_id: id,
                                request_id: String::new(),
                                fence: None,
                            };
                            until_answered!(tally, c.void_hold(void.clone()));
                        }
                        _ => {} // left to expire
                    }
                }
                acked
            })
        })
        .collect();
    let (holds, posts) = kill_redis_amid_holds(&mut env, &held, &stop, workers).await;
    tally.assert_retry_safe();

    // Every hold comes due within 400 ms; touch the book until none is
    // left to end.
    while active(&env).await > 0 || balances(&mut c, &accounts).await.iter().any(|b| b.1 > 0) {
        credit(&mut c, "a", 1).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let entries = journal(&mut c).await;
    let mut starts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ends: BTreeMap<&str, usize> = BTreeMap::new();
    let mut posted = std::collections::BTreeSet::new();
    let mut last: BTreeMap<&str, i64> = accounts.iter().map(|&a| (a, 0)).collect();
    let mut credited = 0;
    for e in &entries {
        match e.kind() {
            Kind::Hold => *starts.entry(e.request_id.as_str()).or_default() += 1,
            Kind::Post => {
                posted.insert(e.request_id.as_str());
                *ends.entry(e.request_id.as_str()).or_default() += 1;
            }
            Kind::Void | Kind::Expire => *ends.entry(e.request_id.as_str()).or_default() += 1,
            Kind::Credit => credited += e.amount,
            _ => {}
        }
        for (account, before, after) in [
            (&e.from_account, e.from_balance_before, e.from_balance_after),
            (&e.to_account, e.to_balance_before, e.to_balance_after),
        ] {
            if !account.is_empty() {
                assert_eq!(before, last[account.as_str()], "balances chain: {e:?}");
                last.insert(account, after);
            }
        }
    }
    assert_eq!(starts, ends, "every hold ends exactly once");
    for id in &holds {
        assert!(
            starts.contains_key(id.as_str()),
            "acknowledged hold {id} lost"
        );
    }
    for id in &posts {
        assert!(posted.contains(id.as_str()), "acknowledged post {id} lost");
    }
    let now = balances(&mut c, &accounts).await;
    for (account, balance) in accounts.iter().zip(&now) {
        assert_eq!(balance.0, last[account], "{account}: the entries add up");
        assert_eq!((balance.1, balance.2), (0, 0), "{account}: nothing pending");
    }
    assert_eq!(now.iter().map(|b| b.0).sum::<i64>(), credited);
    println!(
        "pending transfers through a Redis SIGKILL (AOF always): {} holds and {} posts acknowledged, 0 lost, each of {} holds ended once; answers {:?}",
        holds.len(),
        posts.len(),
        starts.len(),
        tally.get()
    );
}
