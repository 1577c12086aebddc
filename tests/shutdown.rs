//! SIGTERM on the real binary: NOT_SERVING, drain, exit 0.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use rmw::proto::v1::{
    CompareAndSwapRequest, compare_and_swap_response as cas,
    values_service_client::ValuesServiceClient,
};
use tokio::time::{Instant, timeout};
use tokio_stream::StreamExt;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::common::{self, unique_prefix};

/// Waits until Redis holds a client blocked (here: by CLIENT PAUSE).
async fn wait_for_blocked_client(conn: &mut MultiplexedConnection) {
    let started = Instant::now();
    loop {
        let info: String = redis::cmd("INFO")
            .arg("clients")
            .query_async(conn)
            .await
            .unwrap();
        if info
            .lines()
            .any(|l| l.starts_with("blocked_clients:") && l != "blocked_clients:0")
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the call never reached redis"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Injected: SIGTERM while a call is in flight (held by `CLIENT PAUSE`
/// WRITE on Redis). Asserted: watchers of "" and liveness see NOT_SERVING
/// and their streams end; new connections are refused; the in-flight call
/// completes with its real answer; the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_calls_and_exits_zero() {
    let redis = common::redis(&[]).await;
    let mut binary = common::Binary::spawn(&[
        "--redis-url",
        &redis.url(),
        "--key-prefix",
        &unique_prefix(),
    ])
    .await;
    let channel = binary.channel.clone();

    let mut watchers = Vec::new();
    for name in ["", "liveness"] {
        let mut stream = HealthClient::new(channel.clone())
            .watch(HealthCheckRequest {
                service: name.into(),
            })
            .await
            .unwrap()
            .into_inner();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.status(), ServingStatus::Serving);
        watchers.push(stream);
    }

    let mut conn = common::connect(&redis.url()).await;
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("WRITE")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut values = ValuesServiceClient::new(channel);
    let in_flight = tokio::spawn(async move {
        values
            .compare_and_swap(CompareAndSwapRequest {
                key: "k".into(),
                expected: None,
                new_value: Some(b"v".to_vec()),
                request_id: String::new(),
                fence: None,
            })
            .await
    });
    wait_for_blocked_client(&mut conn).await;

    binary.signal("TERM");

    for mut stream in watchers {
        let update = timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(update.status(), ServingStatus::NotServing);
        let end = timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap();
        assert!(end.is_none(), "watch stream did not end: {end:?}");
    }
    let started = Instant::now();
    while binary.endpoint.connect().await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "new connections still accepted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let reply = timeout(Duration::from_secs(10), in_flight)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        reply.into_inner().outcome,
        Some(cas::Outcome::Swapped(cas::Swapped {}))
    );
    let status = timeout(Duration::from_secs(10), binary.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

/// Injected: SIGTERM while 16 writers keep the binary busy. Asserted: every
/// call either completes (and its write is in Redis) or was refused before
/// the service began it (its write is not in Redis) — none is cut off
/// mid-way — and the process exits 0. Printed: the answers by code, with a
/// message of each failure code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_completes_or_refuses_every_call() {
    let redis = common::redis(&[]).await;
    let prefix = unique_prefix();
    let mut binary =
        common::Binary::spawn(&["--redis-url", &redis.url(), "--key-prefix", &prefix]).await;
    let writers = common::load::Writers::start(&binary.channel, 16);
    writers.wait_for(200, Duration::from_secs(20)).await;
    binary.signal("TERM");
    let status = timeout(Duration::from_secs(20), binary.child.wait())
        .await
        .unwrap()
        .unwrap();
    let (acked, failed, tally) = writers.stop().await;
    let mut conn = common::connect(&redis.url()).await;
    let mut missing = 0;
    for (key, value) in &acked {
        let stored: Option<String> = redis::cmd("GET")
            .arg(format!("{prefix}:val:{key}"))
            .query_async(&mut conn)
            .await
            .unwrap();
        if stored.as_deref() != Some(value.as_str()) {
            missing += 1;
        }
    }
    // A call that failed must not have been carried out: refused, never
    // cut off after the service began it.
    let mut applied_anyway = 0;
    for key in &failed {
        let exists: bool = redis::cmd("EXISTS")
            .arg(format!("{prefix}:val:{key}"))
            .query_async(&mut conn)
            .await
            .unwrap();
        applied_anyway += usize::from(exists);
    }
    println!(
        "SIGTERM under load: {} calls completed ({missing} not in Redis), {} refused ({applied_anyway} of them carried out anyway), answers {:?} {:?}, exit {status}",
        acked.len(),
        failed.len(),
        tally.get(),
        tally.samples()
    );
    assert!(status.success());
    assert_eq!(missing, 0);
    assert_eq!(applied_anyway, 0, "an in-flight call was cut off");
    // How the client reports a refusal: connection refused (UNAVAILABLE),
    // a request still queued when the connection closed (hyper: CANCELLED,
    // "operation was canceled"), a stream opened after the GOAWAY (tonic:
    // INTERNAL, "GoAway NO_ERROR"), a request being written as the
    // connection closed (tonic: UNKNOWN, "transport error") — all before
    // the service began them, as the check above shows.
    for code in tally.get().keys() {
        assert!(
            ["Ok", "Unavailable", "Cancelled", "Internal", "Unknown"].contains(&code.as_str()),
            "{:?} {:?}",
            tally.get(),
            tally.samples()
        );
    }
}

/// Injected: a graceful stop of an in-process service with a keep-alive
/// connection open to its metrics port. Asserted: `serve` returns Ok, and
/// by then every server it spawned has been joined: that connection is
/// closed at once. (Connecting to the port again would not show it: the
/// freed port may already be another test's.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outlives_serve() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let redis = common::redis(&[]).await;
    let service = common::Service::start(&redis.url()).await.ready().await;
    let mut kept = tokio::net::TcpStream::connect(service.metrics_addr)
        .await
        .unwrap();
    kept.write_all(b"GET /metrics HTTP/1.1\r\nHost: rmw\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0; 1 << 16];
    let read = kept.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    service.stop().await.unwrap();
    // Whatever is left of the reply, then the end of the connection.
    let closed = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match kept.read(&mut answer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the metrics server outlived serve");
}
