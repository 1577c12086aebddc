//! Health through a Redis outage, a flushed script cache, and a
//! start with Redis down.

use std::time::Duration;

use rmw::proto::v1::{
    CompareAndSwapRequest, GetHealthRequest, GetHealthResponse, GetScriptStatusRequest,
    GetValueRequest, compare_and_swap_response as cas,
};
use tokio::time::Instant;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_types::StatusExt;

use crate::common::{self, Env, Service};

const SERVICES: [&str; 9] = [
    "",
    "rmw.v1.ValuesService",
    "rmw.v1.RecordsService",
    "rmw.v1.InventoryService",
    "rmw.v1.CountersService",
    "rmw.v1.LedgerService",
    "rmw.v1.SequencesService",
    "rmw.v1.LeasesService",
    "rmw.v1.AdminService",
];

fn create(key: &str) -> CompareAndSwapRequest {
    CompareAndSwapRequest {
        key: key.into(),
        expected: None,
        new_value: Some(b"v".to_vec()),
        request_id: String::new(),
        fence: None,
    }
}

/// AdminService's view of each component, checked to be the three
/// documented ones in order.
async fn components(service: &Service) -> GetHealthResponse {
    let health = service
        .admin()
        .get_health(GetHealthRequest {})
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = health.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["redis", "scripts", "draining"]);
    health
}

/// Asserts an RPC error is UNAVAILABLE with a retry hint, never UNKNOWN or
/// INTERNAL.
fn assert_unavailable(status: &tonic::Status) {
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.get_error_details().retry_info().is_some(),
        "no RetryInfo: {status:?}"
    );
}

/// Injected: SIGKILL of redis-server, then a restart on the same port with
/// an empty script cache. Asserted: while down, every call is UNAVAILABLE
/// with RetryInfo, "" and every service NOT_SERVING, liveness SERVING;
/// once back, SERVING within 2 s at the default 500 ms check interval,
/// scripts reloaded, calls succeed, without restarting the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_and_recovery() {
    let mut env = Env::start_with(&[], &["--health-interval", "500ms"]).await;
    let service = &env.service;
    let mut values = service.values();
    values.compare_and_swap(create("before")).await.unwrap();

    env.redis.kill();
    let down = Instant::now();
    let mut calls = 0;
    // Calls during the outage, until readiness has noticed it.
    loop {
        let status = values
            .get_value(GetValueRequest {
                key: "before".into(),
            })
            .await
            .unwrap_err();
        assert_unavailable(&status);
        calls += 1;
        if service.health("").await.unwrap() == ServingStatus::NotServing && calls >= 5 {
            break;
        }
        assert!(
            down.elapsed() < Duration::from_secs(10),
            "readiness never turned NOT_SERVING"
        );
    }
    for name in SERVICES {
        assert_eq!(
            service.health(name).await.unwrap(),
            ServingStatus::NotServing,
            "{name:?}"
        );
    }
    assert_eq!(
        service.health("liveness").await.unwrap(),
        ServingStatus::Serving
    );
    // AdminService says which component is down, and why.
    let health = components(service).await;
    assert!(!health.serving);
    assert!(!health.components[0].serving, "{health:?}");
    let why = &health.components[0].detail;
    assert!(
        why.contains("unavailable") || why.contains("no answer"),
        "{health:?}"
    );
    assert!(!health.components[1].serving, "{health:?}");
    assert!(health.components[2].serving, "{health:?}");
    // Answers come fast while Redis is known to be down.
    let start = Instant::now();
    let status = values.compare_and_swap(create("during")).await.unwrap_err();
    assert_unavailable(&status);
    let fail_fast = start.elapsed();
    println!("outage: {calls} calls UNAVAILABLE; a call while down answered in {fail_fast:?}");
    assert!(fail_fast < Duration::from_millis(1500), "{fail_fast:?}");

    env.redis.restart().await.unwrap();
    let took = env
        .service
        .wait_health("", ServingStatus::Serving, Duration::from_secs(2))
        .await;
    println!("recovery: SERVING {took:?} after redis-server answered again");
    for name in SERVICES {
        assert_eq!(
            env.service.health(name).await.unwrap(),
            ServingStatus::Serving,
            "{name:?}"
        );
    }
    let health = components(&env.service).await;
    assert!(health.serving, "{health:?}");
    assert!(health.components.iter().all(|c| c.serving), "{health:?}");
    let r = values
        .compare_and_swap(create("after"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.outcome, Some(cas::Outcome::Swapped(cas::Swapped {})));
    let status = env
        .service
        .admin()
        .get_script_status(GetScriptStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        status
            .scripts
            .iter()
            .all(|s| s.nodes[0].loaded && s.nodes[0].reloads >= 1)
    );
}

/// Injected: SIGKILL of redis-server while the scheduled check is a
/// minute away (`--health-interval 60s`). Asserted: the first call that
/// finds Redis unavailable brings the check forward, and readiness turns
/// NOT_SERVING within seconds, not at the next interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_brings_the_check_forward() {
    let mut env = Env::start_with(&[], &["--health-interval", "60s"]).await;
    let mut values = env.service.values();
    values.compare_and_swap(create("before")).await.unwrap();
    env.redis.kill();
    let status = values
        .get_value(GetValueRequest {
            key: "before".into(),
        })
        .await
        .unwrap_err();
    assert_unavailable(&status);
    let took = env
        .service
        .wait_health("", ServingStatus::NotServing, Duration::from_secs(10))
        .await;
    println!("readiness NOT_SERVING {took:?} after the first failed call (check interval 60 s)");
}

/// Injected: SCRIPT FLUSH. Asserted: the very next call succeeds (the
/// reload is invisible), and admin reports the reload.
#[tokio::test]
async fn script_flush_is_invisible() {
    let env = Env::start().await;
    let mut values = env.service.values();
    let mut conn = env.conn().await;
    for round in 0..3 {
        let () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut conn)
            .await
            .unwrap();
        let key = format!("k{round}");
        let r = values
            .compare_and_swap(create(&key))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.outcome, Some(cas::Outcome::Swapped(cas::Swapped {})));
    }
    let status = env
        .service
        .admin()
        .get_script_status(GetScriptStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let cas = status
        .scripts
        .iter()
        .find(|s| s.name == "values_cas")
        .unwrap();
    assert_eq!(cas.sha1.len(), 40);
    assert!(cas.nodes[0].reloads >= 3, "{cas:?}");
}

/// Injected: no Redis at all at start-up. Asserted: the service starts
/// anyway (alive, not ready), calls answer UNAVAILABLE quickly, and an
/// unknown health name is NOT_FOUND.
#[tokio::test]
async fn starts_without_redis() {
    let mut redis = common::redis(&[]).await;
    let url = redis.url();
    redis.kill();
    let service = Service::start(&url).await;
    service
        .wait_health("liveness", ServingStatus::Serving, Duration::from_secs(5))
        .await;
    assert_eq!(service.health("").await.unwrap(), ServingStatus::NotServing);
    let status = service.health("no.such.Service").await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let mut values = service.values();
    for _ in 0..3 {
        let status = values.compare_and_swap(create("k")).await.unwrap_err();
        assert_unavailable(&status);
    }
}
