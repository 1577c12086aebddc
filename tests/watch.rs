//! Watches (WatchMovements, WatchEntries, WatchRecords): every change in
//! order, each once, resumable after any id received, across disconnects,
//! a Redis restart, a script flush and a coordinated cluster failover;
//! trimmed history is told; slow and surplus watchers are refused or
//! dropped with a status to resume from; shutdown ends watches cleanly.

use std::time::Duration;

use rmw::proto::v1::{
    DeleteRecordRequest, DisableJournalRequest, EnableJournalRequest, Movement, PutRecordRequest,
    RestockRequest, WatchEntriesRequest, WatchMovementsRequest, WatchRecordsRequest, WatchStart,
    inventory_service_client::InventoryServiceClient, record_change, watch_entries_response,
    watch_movements_response as watched, watch_records_response,
};
use tokio::time::timeout;
use tonic::{Code, Streaming, transport::Channel};

use crate::common::{Env, Service, assert_error, assert_invalid, cluster::Cluster};
use crate::holds::journal;

type Inventory = InventoryServiceClient<Channel>;

/// Long enough for anything that is coming to come; a test that waits
/// this long has failed.
const PATIENCE: Duration = Duration::from_secs(20);

fn watch_request(product: &str, from_id: &str, start: WatchStart) -> WatchMovementsRequest {
    WatchMovementsRequest {
        store: "s1".into(),
        product: product.into(),
        from_id: from_id.into(),
        start: start.into(),
    }
}

async fn watch(
    c: &mut Inventory,
    from_id: &str,
    start: WatchStart,
) -> Streaming<rmw::proto::v1::WatchMovementsResponse> {
    c.watch_movements(watch_request("", from_id, start))
        .await
        .unwrap()
        .into_inner()
}

async fn restock(c: &mut Inventory, product: &str, quantity: i64) {
    c.restock(RestockRequest {
        store: "s1".into(),
        product: product.into(),
        quantity,
        request_id: String::new(),
    })
    .await
    .unwrap();
}

/// The next message of a watch; fails the test if none comes in time.
async fn received<T>(stream: &mut Streaming<T>) -> T {
    timeout(PATIENCE, stream.message())
        .await
        .expect("an event in time")
        .expect("no error")
        .expect("the stream goes on")
}

/// The next event of a watch; fails the test if none comes in time.
async fn next(stream: &mut Streaming<rmw::proto::v1::WatchMovementsResponse>) -> watched::Event {
    received(stream).await.event.unwrap()
}

async fn next_movement(stream: &mut Streaming<rmw::proto::v1::WatchMovementsResponse>) -> Movement {
    match next(stream).await {
        watched::Event::Movement(m) => m,
        other @ watched::Event::Trimmed(_) => panic!("expected a movement, got {other:?}"),
    }
}

/// A writer makes 600 movements while a watcher, from the oldest, is
/// dropped at pseudo-random points and resumed after the last id it
/// received each time. The union of what it received is the journal, in
/// order, with no duplicate and no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_watch_misses_and_repeats_nothing() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    let writer = {
        let mut c = c.clone();
        tokio::spawn(async move {
            for i in 0..600 {
                restock(&mut c, ["a", "b", "c"][i % 3], 1).await;
            }
        })
    };
    let mut received: Vec<Movement> = Vec::new();
    let mut resumes = 0;
    let mut stream = watch(&mut c, "", WatchStart::Oldest).await;
    let mut seed = 7u64;
    while received.len() < 600 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let take = 1 + (seed >> 33) % 90;
        for _ in 0..take {
            if received.len() == 600 {
                break;
            }
            received.push(next_movement(&mut stream).await);
        }
        drop(stream);
        resumes += 1;
        let last = received.last().map(|m| m.id.clone()).unwrap_or_default();
        let start = if last.is_empty() {
            WatchStart::Oldest
        } else {
            WatchStart::Unspecified
        };
        stream = watch(&mut c, &last, start).await;
    }
    writer.await.unwrap();
    let journal = journal(&mut c).await;
    assert_eq!(journal.len(), 600);
    assert_eq!(received, journal, "in order, each once");
    assert!(resumes > 5, "{resumes} resumes");
    // Nothing more was sent than there was.
    restock(&mut c, "a", 1).await;
    assert_eq!(
        next_movement(&mut stream).await.after,
        journal.iter().filter(|m| m.product == "a").count() as i64 + 1
    );
}

/// WATCH_START_NOW streams only what happens after the call returned; a
/// product filter streams only that product's movements, and one that
/// matches nothing streams nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn now_and_product_filters() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    restock(&mut c, "a", 5).await;
    let mut now = watch(&mut c, "", WatchStart::Now).await;
    let mut only_b = c
        .watch_movements(watch_request("b", "", WatchStart::Oldest))
        .await
        .unwrap()
        .into_inner();
    let mut nothing = c
        .watch_movements(watch_request("zzz", "", WatchStart::Oldest))
        .await
        .unwrap()
        .into_inner();
    restock(&mut c, "a", 1).await;
    restock(&mut c, "b", 2).await;
    let first = next_movement(&mut now).await;
    assert_eq!(
        (first.product.as_str(), first.before, first.after),
        ("a", 5, 6)
    );
    assert_eq!(next_movement(&mut now).await.product, "b");
    let b = next_movement(&mut only_b).await;
    assert_eq!((b.product.as_str(), b.delta), ("b", 2));
    // The filter saw every movement before b's (it resumes by store ids),
    // and sent none of them.
    let journal = journal(&mut c).await;
    assert_eq!(b.id, journal[2].id);
    assert!(
        timeout(Duration::from_millis(300), nothing.message())
            .await
            .is_err(),
        "a filter that matches nothing streams nothing"
    );
}

/// With `--movements-retention 50`, 400 movements leave the oldest
/// trimmed: a watch resuming from the first id is told first (`trimmed`,
/// naming the newest lost and the oldest kept), then gets every movement
/// kept, in order; a watch from the oldest is told nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trimmed_history_is_told_first() {
    let env = Env::start_with(&[], &["--movements-retention", "50"]).await;
    let mut c = env.service.inventory();
    restock(&mut c, "a", 1).await;
    let first = journal(&mut c).await[0].id.clone();
    for _ in 0..399 {
        restock(&mut c, "a", 1).await;
    }
    let kept = journal(&mut c).await;
    assert!(
        kept.len() < 400 && kept[0].id != first,
        "trimmed to {}",
        kept.len()
    );
    let mut stream = watch(&mut c, &first, WatchStart::Unspecified).await;
    match next(&mut stream).await {
        watched::Event::Trimmed(t) => {
            assert_eq!(t.oldest_id, kept[0].id);
            assert_eq!(t.trimmed_total, 400 - kept.len() as u64);
        }
        other @ watched::Event::Movement(_) => panic!("expected trimmed first, got {other:?}"),
    }
    for m in &kept {
        assert_eq!(&next_movement(&mut stream).await, m);
    }
    let mut oldest = watch(&mut c, "", WatchStart::Oldest).await;
    assert_eq!(&next_movement(&mut oldest).await, &kept[0]);
}

/// Injected: SIGKILL of Redis (AOF always) while a writer makes 300
/// movements and a watcher follows; then SCRIPT FLUSH. Asserted: the
/// watch pauses and resumes by itself: it receives exactly the journal,
/// in order, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumes_by_itself_across_a_redis_restart_and_a_script_flush() {
    let mut env = Env::start_with(&["--appendonly", "yes", "--appendfsync", "always"], &[]).await;
    let mut c = env.service.inventory();
    let mut stream = watch(&mut c, "", WatchStart::Oldest).await;
    let writer = {
        let mut c = c.clone();
        tokio::spawn(async move {
            let mut written = 0;
            while written < 300 {
                // Retried until answered: during the restart calls fail.
                if c.restock(RestockRequest {
                    store: "s1".into(),
                    product: "a".into(),
                    quantity: 1,
                    request_id: format!("r{written}"),
                })
                .await
                .is_ok()
                {
                    written += 1;
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
    };
    let mut received = Vec::new();
    for _ in 0..100 {
        received.push(next_movement(&mut stream).await);
    }
    env.redis.kill();
    env.redis.restart().await.unwrap();
    for _ in 0..100 {
        received.push(next_movement(&mut stream).await);
    }
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async::<()>(&mut env.conn().await)
        .await
        .unwrap();
    while received.len() < 300 {
        received.push(next_movement(&mut stream).await);
    }
    writer.await.unwrap();
    let journal = journal(&mut c).await;
    assert_eq!(received, journal);
    println!(
        "watch through a Redis SIGKILL and a SCRIPT FLUSH: {} movements received, 0 lost, 0 repeated",
        received.len()
    );
}

/// Injected: SIGKILL of the primary serving the store (node timeout 1 s)
/// while a writer makes 200 movements (each retried with its request id
/// until answered) and a watcher follows. Asserted: the watcher goes on by
/// itself on the promoted replica; it received every movement the journal
/// holds after the failover, in order, none twice. (A movement the killed
/// primary acknowledged and had not replicated yet may be streamed and
/// then be missing from the journal: asynchronous replication's window,
/// docs/RELIABILITY.md; it is counted and printed.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_follows_a_cluster_failover() {
    let mut cluster = Cluster::start_with_node_timeout(Duration::from_secs(1)).await;
    let service = Service::start_with(&cluster.urls(), &[])
        .await
        .ready()
        .await;
    let mut c = service.inventory();
    let mut stream = watch(&mut c, "", WatchStart::Oldest).await;
    let writer = {
        let mut c = c.clone();
        tokio::spawn(async move {
            let mut written = 0;
            while written < 200 {
                let request = RestockRequest {
                    store: "s1".into(),
                    product: "a".into(),
                    quantity: 1,
                    request_id: format!("r{written}"),
                };
                if c.restock(request).await.is_ok() {
                    written += 1;
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
    };
    let mut received = Vec::new();
    for _ in 0..50 {
        received.push(next_movement(&mut stream).await);
    }
    let seed = cluster.nodes[0].port();
    let slot = rmw::redis::slot::slot(&format!("{}:inv:{{s1}}:moves", service.prefix));
    let victim = cluster.primary_of(seed, slot).await;
    cluster.kill(victim);
    writer.await.unwrap();
    let journal = journal(&mut c).await;
    let last = journal.last().unwrap().id.clone();
    while received.last().unwrap().id != last {
        received.push(next_movement(&mut stream).await);
    }
    let ids: Vec<(u64, u64)> = received
        .iter()
        .map(|m| {
            let (ms, seq) = m.id.split_once('-').unwrap();
            (ms.parse().unwrap(), seq.parse().unwrap())
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
    let got: std::collections::HashSet<&str> = received.iter().map(|m| m.id.as_str()).collect();
    let missed = journal
        .iter()
        .filter(|m| !got.contains(m.id.as_str()))
        .count();
    assert_eq!(missed, 0, "every movement the journal holds was streamed");
    println!(
        "watch through a primary's SIGKILL and failover: {} movements streamed, {} in the journal after it, 0 missed, 0 repeated; {} streamed then lost with the primary",
        received.len(),
        journal.len(),
        received.len() - journal.len()
    );
}

/// `--max-watches 2`: a third watch is refused with RESOURCE_EXHAUSTED
/// and a RetryInfo; once one ends, a new one opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_beyond_the_bound_are_refused_until_one_ends() {
    let env = Env::start_with(&[], &["--max-watches", "2"]).await;
    let mut c = env.service.inventory();
    let one = watch(&mut c, "", WatchStart::Now).await;
    let _two = watch(&mut c, "", WatchStart::Now).await;
    let status = c
        .watch_movements(watch_request("", "", WatchStart::Now))
        .await
        .unwrap_err();
    assert_error(&status, Code::ResourceExhausted, "TOO_MANY_WATCHES");
    assert!(status.message().contains("--max-watches"));
    let details = tonic_types::StatusExt::get_error_details(&status);
    assert!(
        details.retry_info().is_some(),
        "a RetryInfo says when to ask again"
    );
    drop(one);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match c
            .watch_movements(watch_request("", "", WatchStart::Now))
            .await
        {
            Ok(_) => break,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the ended watch never freed its place"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Shutdown ends a watch with UNAVAILABLE (SHUTTING_DOWN): the caller
/// resumes elsewhere, and the drain does not wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_watches_with_a_status_to_resume_elsewhere() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    let mut stream = watch(&mut c, "", WatchStart::Now).await;
    let started = std::time::Instant::now();
    env.service.stop().await.unwrap();
    let status = timeout(PATIENCE, stream.message())
        .await
        .expect("in time")
        .unwrap_err();
    assert_error(&status, Code::Unavailable, "SHUTTING_DOWN");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A watch whose caller set a deadline ends there, on the server's side
/// (tonic's client, like a raw HTTP/2 one, does not end a stream at its
/// deadline itself): DEADLINE_EXCEEDED while Redis answers; injected: a
/// SIGKILL of Redis mid-watch; asserted: UNAVAILABLE at the deadline, the
/// pause told as such, and every event before it delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_at_its_callers_deadline() {
    let mut env = Env::start().await;
    let mut c = env.service.inventory();
    restock(&mut c, "a", 1).await;
    let deadline = Duration::from_millis(700);
    let watch_until = |c: &mut Inventory| {
        let mut request = tonic::Request::new(watch_request("", "", WatchStart::Oldest));
        request.set_timeout(deadline);
        let mut c = c.clone();
        async move { c.watch_movements(request).await.unwrap().into_inner() }
    };

    let started = std::time::Instant::now();
    let mut stream = watch_until(&mut c).await;
    assert_eq!(next_movement(&mut stream).await.product, "a");
    let status = timeout(PATIENCE, stream.message())
        .await
        .expect("ended in time")
        .unwrap_err();
    let healthy = started.elapsed();
    assert_error(&status, Code::DeadlineExceeded, "DEADLINE_EXCEEDED");
    assert!(healthy >= deadline, "ended early: {healthy:?}");

    let started = std::time::Instant::now();
    let mut stream = watch_until(&mut c).await;
    assert_eq!(next_movement(&mut stream).await.product, "a");
    env.redis.kill();
    let status = timeout(PATIENCE, stream.message())
        .await
        .expect("ended in time")
        .unwrap_err();
    let away = started.elapsed();
    assert_error(&status, Code::Unavailable, "REDIS_UNAVAILABLE");
    assert!(away >= deadline, "ended early: {away:?}");
    println!(
        "watch with a {deadline:?} deadline: DEADLINE_EXCEEDED after {healthy:?}; \
         with Redis killed, UNAVAILABLE after {away:?}"
    );
}

/// WatchEntries streams a book's entries; an account filter only those
/// touching the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_are_watched_by_book_and_account() {
    let env = Env::start().await;
    let mut c = env.service.ledger();
    let request = |account: &str| WatchEntriesRequest {
        book: "b1".into(),
        account: account.into(),
        from_id: String::new(),
        start: WatchStart::Oldest.into(),
    };
    let mut all = c.watch_entries(request("")).await.unwrap().into_inner();
    let mut only_y = c.watch_entries(request("y")).await.unwrap().into_inner();
    for (account, amount) in [("x", 5), ("y", 7), ("x", 1)] {
        crate::pending::credit(&mut c, account, amount).await;
    }
    let mut amounts = Vec::new();
    for _ in 0..3 {
        match received(&mut all).await.event.unwrap() {
            watch_entries_response::Event::Entry(e) => amounts.push((e.to_account, e.amount)),
            other @ watch_entries_response::Event::Trimmed(_) => panic!("{other:?}"),
        }
    }
    assert_eq!(amounts, [("x".into(), 5), ("y".into(), 7), ("x".into(), 1)]);
    match received(&mut only_y).await.event.unwrap() {
        watch_entries_response::Event::Entry(e) => assert_eq!(
            (e.to_account.as_str(), e.amount, e.to_balance_after),
            ("y", 7, 7)
        ),
        other @ watch_entries_response::Event::Trimmed(_) => panic!("{other:?}"),
    }
}

/// A tag's journal, once enabled, streams every put and delete of its
/// records with versions and values; writes of other tags and untagged
/// keys are not in it; a tag whose journal is off is refused; enabling
/// and disabling say whether they changed anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_changes_of_a_tag_are_watched_once_its_journal_is_on() {
    let env = Env::start().await;
    let mut c = env.service.records();
    let request = |tag: &str| WatchRecordsRequest {
        tag: tag.into(),
        from_id: String::new(),
        start: WatchStart::Oldest.into(),
    };
    let status = c.watch_records(request("cfg")).await.unwrap_err();
    assert_error(&status, Code::FailedPrecondition, "JOURNAL_OFF");
    let enable = |tag: &str| EnableJournalRequest { tag: tag.into() };
    assert!(
        c.enable_journal(enable("cfg"))
            .await
            .unwrap()
            .into_inner()
            .enabled
    );
    assert!(
        !c.enable_journal(enable("cfg"))
            .await
            .unwrap()
            .into_inner()
            .enabled
    );
    let mut stream = c.watch_records(request("cfg")).await.unwrap().into_inner();
    let put = |key: &str, value: &str, expected_version| PutRecordRequest {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        expected_version,
        request_id: String::new(),
        fence: None,
    };
    c.put_record(put("app{cfg}:a", "one", 0)).await.unwrap();
    c.put_record(put("app{other}:a", "x", 0)).await.unwrap();
    c.put_record(put("untagged", "y", 0)).await.unwrap();
    c.put_record(put("app{cfg}:a", "two", 1)).await.unwrap();
    c.delete_record(DeleteRecordRequest {
        key: "app{cfg}:a".into(),
        expected_version: 2,
        request_id: String::new(),
        fence: None,
    })
    .await
    .unwrap();
    let mut changes = Vec::new();
    for _ in 0..3 {
        match received(&mut stream).await.event.unwrap() {
            watch_records_response::Event::Change(change) => changes.push((
                change.kind(),
                change.key,
                change.version,
                String::from_utf8(change.value).unwrap(),
            )),
            other @ watch_records_response::Event::Trimmed(_) => panic!("{other:?}"),
        }
    }

    assert_eq!(
        changes,
        [
            (
                record_change::Kind::Put,
                "app{cfg}:a".into(),
                1,
                "one".into()
            ),
            (
                record_change::Kind::Put,
                "app{cfg}:a".into(),
                2,
                "two".into()
            ),
            (
                record_change::Kind::Delete,
                "app{cfg}:a".into(),
                2,
                String::new()
            ),
        ]
    );
    let disable = DisableJournalRequest { tag: "cfg".into() };
    assert!(
        c.disable_journal(disable.clone())
            .await
            .unwrap()
            .into_inner()
            .disabled
    );
    assert!(
        !c.disable_journal(disable)
            .await
            .unwrap()
            .into_inner()
            .disabled
    );
    let status = c.watch_records(request("cfg")).await.unwrap_err();
    assert_error(&status, Code::FailedPrecondition, "JOURNAL_OFF");
}

/// Malformed positions and ids are INVALID_ARGUMENT with the field named;
/// a position past the newest is an empty stream until something comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_malformed_watches() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    for (request, fields) in [
        (
            watch_request("", "12", WatchStart::Unspecified),
            &["from_id"][..],
        ),
        (
            watch_request("", "a-1", WatchStart::Unspecified),
            &["from_id"],
        ),
        (
            watch_request("", "1-2-3", WatchStart::Unspecified),
            &["from_id"],
        ),
        (
            watch_request("", "99999999999999999999999-0", WatchStart::Unspecified),
            &["from_id"],
        ),
        (watch_request("", "1-0", WatchStart::Now), &["start"]),
        (
            WatchMovementsRequest {
                start: 7,
                ..watch_request("", "", WatchStart::Unspecified)
            },
            &["start"],
        ),
        (
            WatchMovementsRequest {
                store: "bad store".into(),
                ..watch_request("bad product", "", WatchStart::Now)
            },
            &["store", "product"],
        ),
    ] {
        let status = c.watch_movements(request).await.unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", fields);
    }
    let mut records = env.service.records();
    let status = records
        .watch_records(WatchRecordsRequest {
            tag: "{x}".into(),
            from_id: String::new(),
            start: 0,
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["tag"]);
    // Far in the future: nothing yet, then what comes after it.
    let mut future = watch(&mut c, "99999999999999-0", WatchStart::Unspecified).await;
    restock(&mut c, "a", 1).await;
    assert!(
        timeout(Duration::from_millis(300), future.message())
            .await
            .is_err()
    );
}

/// A watcher reading one movement per 10 ms while a writer makes 3,000 as
/// fast as it can is ended with ABORTED (WATCH_BEHIND, naming the last id
/// it was sent in `last_id`) once the service's bounded buffers for it are
/// full; what it received is in order, and resuming after its last id
/// gets the rest: together, the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_reads_too_slowly_is_dropped_and_resumes() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    // A client whose stream window is HTTP/2's initial one (not hyper's
    // 2 MiB), so that the service's buffers fill, not the client's; its
    // connection window large, since h2 budgets the small DATA frames a
    // client holds unread by it (and ends the connection with
    // ENHANCE_YOUR_CALM past that budget).
    let small = Channel::from_shared(format!("http://{}", env.service.addr))
        .unwrap()
        .initial_stream_window_size(Some(65_535))
        .initial_connection_window_size(Some(8 << 20))
        .connect()
        .await
        .unwrap();
    let mut slow = watch(&mut InventoryServiceClient::new(small), "", WatchStart::Now).await;
    let writer = {
        let mut c = c.clone();
        tokio::spawn(async move {
            for _ in 0..3000 {
                restock(&mut c, "a", 1).await;
            }
        })
    };
    let mut received: Vec<Movement> = Vec::new();
    let status = loop {
        match timeout(PATIENCE, slow.message()).await.expect("in time") {
            Ok(Some(message)) => match message.event.unwrap() {
                watched::Event::Movement(m) => received.push(m),
                other @ watched::Event::Trimmed(_) => panic!("{other:?}"),
            },
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => break status,
        }
        if !writer.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    writer.await.unwrap();
    assert_error(&status, Code::Aborted, "WATCH_BEHIND");
    let last = received.last().map(|m| m.id.clone()).unwrap();
    let info = tonic_types::StatusExt::get_error_details(&status);
    assert_eq!(info.error_info().unwrap().metadata["last_id"], last);
    assert!(received.len() < 3000, "dropped before the end");
    let mut resumed = watch(&mut c, &last, WatchStart::Unspecified).await;
    while received.len() < 3000 {
        received.push(next_movement(&mut resumed).await);
    }
    assert_eq!(received, journal(&mut c).await);
    let metrics = crate::common::scrape(env.service.metrics_addr).await;
    assert_eq!(
        crate::common::sample(&metrics, "rmw_watch_behind_total"),
        Some(1.0)
    );
}

/// The watch metrics: a watch open, its reader, events sent, lag; and
/// none once it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_are_counted() {
    let env = Env::start().await;
    let mut c = env.service.inventory();
    let mut stream = watch(&mut c, "", WatchStart::Now).await;
    restock(&mut c, "a", 1).await;
    next_movement(&mut stream).await;
    let metrics = crate::common::scrape(env.service.metrics_addr).await;
    let sample = |name: &str| crate::common::sample(&metrics, name);
    assert_eq!(sample("rmw_watch_active"), Some(1.0));
    assert_eq!(sample("rmw_watch_readers"), Some(1.0));
    assert_eq!(sample("rmw_watch_events_sent_total"), Some(1.0));
    assert_eq!(sample("rmw_watch_lag_seconds_count"), Some(1.0));
    drop(stream);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let metrics = crate::common::scrape(env.service.metrics_addr).await;
        let sample = |name: &str| crate::common::sample(&metrics, name);
        if sample("rmw_watch_active") == Some(0.0) && sample("rmw_watch_readers") == Some(0.0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ended watch is still counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
