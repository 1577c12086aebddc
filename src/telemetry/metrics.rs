//! Prometheus metrics, served on their own HTTP port (`/metrics`).
//!
//! RPCs are counted by method, status code and business outcome (the
//! `oneof outcome` variant a response carries), with a latency histogram
//! per method and a gauge of RPCs in flight, all from the per-RPC layer.
//! Redis's side — pool connections and waits, script loads, errors by kind
//! — comes from a collector the Redis layer hands over, which reads the
//! Redis handle at each scrape: what it measures, and how, is Redis's.

use std::{collections::HashMap, fmt, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use prometheus_client::{
    collector::Collector,
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use prost::Message;
use tokio::net::TcpListener;

use crate::proto;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    method: &'static str,
    code: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RpcLabels, Counter>,
    durations: Family<MethodLabels, Histogram>,
    in_flight: Gauge,
    /// Full method paths (`/rmw.v1.ValuesService/GetValue`) of the
    /// contract, so labels come from a fixed set whatever paths callers
    /// send.
    methods: HashMap<String, &'static str>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metrics of a service, with `redis` collecting Redis's side at
    /// each scrape.
    #[must_use]
    pub fn new(
        redis: Box<dyn Collector>,
        watches: &crate::watch::WatchMetrics,
        lease_waiters: &crate::ops::Waiters,
        access: &crate::auth::Access,
    ) -> Arc<Self> {
        let mut registry = Registry::with_prefix("rmw");
        let requests = Family::<RpcLabels, Counter>::default();
        registry.register(
            "rpc_requests",
            "RPCs answered, by method, gRPC status code and business outcome",
            requests.clone(),
        );
        let durations = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            // 50 µs to ~ 13 s.
            Histogram::new(exponential_buckets(0.000_05, 2.0, 19))
        });
        registry.register(
            "rpc_duration_seconds",
            "Time to answer an RPC, by method",
            durations.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "rpc_in_flight",
            "RPCs being answered now",
            in_flight.clone(),
        );
        registry.register_collector(redis);
        watches.register(&mut registry);
        lease_waiters.register(&mut registry);
        access.register(&mut registry);
        Arc::new(Self {
            registry,
            requests,
            durations,
            in_flight,
            methods: method_names(),
        })
    }

    /// The label for a request path: the method, or `unknown`.
    #[must_use]
    pub fn method(&self, path: &str) -> &'static str {
        self.methods.get(path).copied().unwrap_or("unknown")
    }

    /// An RPC started.
    pub fn started(&self) {
        self.in_flight.inc();
    }

    /// An RPC was answered.
    pub fn answered(
        &self,
        method: &'static str,
        code: &'static str,
        outcome: &'static str,
        took: Duration,
    ) {
        self.in_flight.dec();
        self.requests
            .get_or_create(&RpcLabels {
                method,
                code,
                outcome,
            })
            .inc();
        self.durations
            .get_or_create(&MethodLabels { method })
            .observe(took.as_secs_f64());
    }

    /// The OpenMetrics text of every metric.
    #[must_use]
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// Serves `/metrics` on `listener` until `shutdown` resolves.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = Arc::clone(&self);
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.render(),
                    )
                }
            }),
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Binds the metrics port.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
        TcpListener::bind(addr).await
    }
}

/// Every method path of the contract, leaked once into static labels.
fn method_names() -> HashMap<String, &'static str> {
    let Ok(files) = prost_types::FileDescriptorSet::decode(proto::FILE_DESCRIPTOR_SET) else {
        return HashMap::new();
    };
    let mut methods = HashMap::new();
    for file in files.file {
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                let label: &'static str =
                    Box::leak(format!("{}/{}", service.name(), method.name()).into_boxed_str());
                methods.insert(path, label);
            }
        }
    }
    methods
}
