//! Deadlines: answered as DEADLINE_EXCEEDED (not tonic's CANCELLED), on
//! time, and nothing sent to Redis once they have passed.

use std::time::Duration;

use rmw::proto::v1::CompareAndSwapRequest;
use tokio::time::Instant;
use tonic::{Code, Request};

use crate::common::{Env, command_calls};

fn create(key: &str) -> CompareAndSwapRequest {
    CompareAndSwapRequest {
        key: key.into(),
        expected: None,
        new_value: Some(b"v".to_vec()),
        request_id: String::new(),
        fence: None,
    }
}

/// Pauses writes on Redis (`CLIENT PAUSE … WRITE`): scripts that may write
/// wait, reads and the health check still answer.
async fn pause_writes(env: &Env, for_ms: u64) {
    let mut conn = env.conn().await;
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(for_ms)
        .arg("WRITE")
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// Injected: writes paused for 3 s. Asserted: a call with a 300 ms
/// deadline answers DEADLINE_EXCEEDED by its deadline (+200 ms slack for a
/// busy machine), as does a call without one under a 300 ms default.
#[tokio::test]
async fn stalled_redis_answers_by_the_deadline() {
    let env = Env::start_with(&[], &["--default-timeout", "300ms"]).await;
    let mut values = env.service.values_without_local_deadline();
    pause_writes(&env, 3000).await;

    let mut request = Request::new(create("a"));
    request.set_timeout(Duration::from_millis(300));
    let start = Instant::now();
    let status = values.compare_and_swap(request).await.unwrap_err();
    let took = start.elapsed();
    println!("caller deadline 300 ms: {:?} after {took:?}", status.code());
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");

    let start = Instant::now();
    let status = values.compare_and_swap(create("b")).await.unwrap_err();
    let took = start.elapsed();
    println!(
        "default deadline 300 ms: {:?} after {took:?}",
        status.code()
    );
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");
}

/// A request whose deadline has passed on arrival is answered
/// DEADLINE_EXCEEDED and no script is sent to Redis.
#[tokio::test]
async fn expired_requests_never_reach_redis() {
    let env = Env::start().await;
    let mut values = env.service.values_without_local_deadline();
    let mut conn = env.conn().await;
    let before = command_calls(&mut conn, "evalsha").await;
    for _ in 0..5 {
        let mut request = Request::new(create("a"));
        request.set_timeout(Duration::from_nanos(1));
        let status = values.compare_and_swap(request).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    }
    assert_eq!(command_calls(&mut conn, "evalsha").await, before);
    assert!(env.snapshot().await.is_empty());
}
