//! Metrics and traces: what the per-RPC layer and the Redis handle report.

use std::{
    fmt::Write as _,
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
    trace::v1::Span,
};
use rmw::proto::v1::{CompareAndSwapRequest, values_service_client::ValuesServiceClient};
use tokio::time::{Instant, timeout};
use tonic::{Request, Response, Status};

use crate::common::{self, Binary, Env, sample, scrape, unique_prefix};

fn create(key: &str) -> CompareAndSwapRequest {
    CompareAndSwapRequest {
        key: key.into(),
        expected: None,
        new_value: Some(b"v".to_vec()),
        request_id: String::new(),
        fence: None,
    }
}

/// RPCs are counted by method, status code and business outcome, timed by
/// method, and Redis's pool and scripts are reported, on `/metrics`.
#[tokio::test]
async fn metrics_count_rpcs_by_method_code_and_outcome() {
    let env = Env::start().await;
    let mut values = env.service.values();
    values.compare_and_swap(create("k")).await.unwrap(); // swapped
    values.compare_and_swap(create("k")).await.unwrap(); // conflict
    values.compare_and_swap(create("k")).await.unwrap(); // conflict
    values.compare_and_swap(create("")).await.unwrap_err(); // invalid
    let text = scrape(env.service.metrics_addr).await;
    let cas = "method=\"ValuesService/CompareAndSwap\"";
    for (series, want) in [
        (
            format!("rmw_rpc_requests_total{{{cas},code=\"OK\",outcome=\"swapped\"}}"),
            1.0,
        ),
        (
            format!("rmw_rpc_requests_total{{{cas},code=\"OK\",outcome=\"conflict\"}}"),
            2.0,
        ),
        (
            format!("rmw_rpc_requests_total{{{cas},code=\"INVALID_ARGUMENT\",outcome=\"none\"}}"),
            1.0,
        ),
        (format!("rmw_rpc_duration_seconds_count{{{cas}}}"), 4.0),
        ("rmw_rpc_in_flight".to_owned(), 0.0),
        ("rmw_redis_pool_connections{state=\"open\"}".to_owned(), 2.0),
    ] {
        assert_eq!(sample(&text, &series), Some(want), "{series}\n{text}");
    }
    let node = format!("127.0.0.1:{}", env.redis.port());
    let loaded = format!("rmw_script_loaded{{script=\"values_cas\",node=\"{node}\"}}");
    assert_eq!(sample(&text, &loaded), Some(1.0), "{text}");
    let reloads = format!("rmw_script_reloads_total{{script=\"values_cas\",node=\"{node}\"}}");
    assert_eq!(sample(&text, &reloads), Some(0.0), "{text}");
    assert!(
        text.contains("rmw_redis_errors_total{kind=\"unavailable\"} 0"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"));
}

/// With `--max-concurrent-streams 2`, four calls on one connection held
/// by a Redis write pause never put more than two in flight in the
/// service; all four complete when the pause ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_streams_bound_rpcs_in_flight() {
    let env = Env::start_with(&[], &["--max-concurrent-streams", "2"]).await;
    let mut conn = env.conn().await;
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("WRITE")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut calls = Vec::new();
    for i in 0..4 {
        let mut values = env.service.values();
        calls.push(tokio::spawn(async move {
            values.compare_and_swap(create(&format!("k{i}"))).await
        }));
    }
    // Until the pause ends, sample the gauge: it reaches 2 and stays there.
    let started = Instant::now();
    let mut peak = 0.0_f64;
    while started.elapsed() < Duration::from_secs(1) {
        let in_flight =
            sample(&scrape(env.service.metrics_addr).await, "rmw_rpc_in_flight").unwrap();
        peak = peak.max(in_flight);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("max concurrent streams 2: peak RPCs in flight {peak}");
    assert!((peak - 2.0).abs() < 0.5, "peak {peak}");
    for call in calls {
        timeout(Duration::from_secs(10), call)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// Spans received by an in-process OTLP collector.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
    /// The `service.name` of every exported resource.
    services: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            let name = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(name) if kv.key == "service.name" => Some(name.clone()),
                    _ => None,
                });
            self.services.lock().unwrap().push(name.unwrap_or_default());
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            Value::IntValue(i) => Some(i.to_string()),
            other => Some(format!("{other:?}")),
        })
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the binary exports a server
/// span per RPC — named after the method, child of the caller's W3C
/// `traceparent`, with the numeric status code and the outcome — and a
/// child span per script call naming the script, under the service name
/// `OTEL_SERVICE_NAME` gives; SIGTERM flushes them. Nothing else is
/// exported: no HTTP/2 connection span, no source paths, thread ids or
/// busy/idle timings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_reach_an_otlp_collector_under_the_callers_parent() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let redis = common::redis(&[]).await;
    let mut binary = Binary::spawn_with_env(
        &[
            "--redis-url",
            &redis.url(),
            "--key-prefix",
            &unique_prefix(),
        ],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "orders-rmw"),
        ],
    )
    .await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let mut request = Request::new(create("traced"));
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{parent_id}-01").parse().unwrap(),
    );
    ValuesServiceClient::new(binary.channel.clone())
        .compare_and_swap(request)
        .await
        .unwrap();
    binary.signal("TERM");
    let status = timeout(Duration::from_secs(15), binary.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());

    let spans = collector.spans.lock().unwrap().clone();
    let hex = |bytes: &[u8]| {
        bytes.iter().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    };
    let rpc = spans
        .iter()
        .find(|s| s.name == "ValuesService/CompareAndSwap")
        .unwrap_or_else(|| {
            panic!(
                "no RPC span among {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(hex(&rpc.trace_id), trace_id, "the caller's trace");
    assert_eq!(
        hex(&rpc.parent_span_id),
        parent_id,
        "the caller's span is the parent"
    );
    assert_eq!(rpc.kind, 2, "SPAN_KIND_SERVER");
    let status_code = rpc
        .attributes
        .iter()
        .find(|kv| kv.key == "rpc.grpc.status_code")
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    assert_eq!(
        status_code,
        Some(Value::IntValue(0)),
        "numeric, as OTel has it"
    );
    assert_eq!(attribute(rpc, "rmw.outcome").as_deref(), Some("swapped"));
    assert_eq!(attribute(rpc, "rpc.system").as_deref(), Some("grpc"));
    let script = spans
        .iter()
        .find(|s| s.name == "redis.script")
        .expect("a script span");
    assert_eq!(script.trace_id, rpc.trace_id);
    assert_eq!(script.parent_span_id, rpc.span_id);
    assert_eq!(
        attribute(script, "rmw.script").as_deref(),
        Some("values_cas")
    );
    assert_eq!(attribute(script, "db.system").as_deref(), Some("redis"));
    // No request body ever becomes an attribute, nor where the code or
    // thread ran.
    assert!(spans.iter().all(|s| {
        s.attributes.iter().all(|kv| {
            !kv.key.contains("key")
                && !kv.key.contains("value")
                && !kv.key.starts_with("code.")
                && !kv.key.starts_with("thread.")
                && kv.key != "busy_ns"
                && kv.key != "idle_ns"
        })
    }));
    // rmw's spans only: the client connection made no h2 `Connection` span.
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names
            .iter()
            .all(|n| *n == "redis.script" || n.ends_with("Service/CompareAndSwap")),
        "{names:?}"
    );
    let services = collector.services.lock().unwrap().clone();
    assert!(
        !services.is_empty() && services.iter().all(|s| s == "orders-rmw"),
        "{services:?}"
    );
}
