//! Prometheus metrics, served on their own HTTP port (`/metrics`).
//!
//! RPCs are counted by method, status code and business outcome (the
//! `oneof outcome` variant a response carries), with a latency histogram
//! per method and a gauge of RPCs in flight, all from the per-RPC layer.
//! Redis's side — pool connections and waits, script loads, errors by kind
//! — is read from the Redis handle at each scrape.

use std::{collections::HashMap, fmt, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, text::encode},
    metrics::{
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use prost::Message;
use tokio::net::TcpListener;

use crate::{proto, redis::Redis};

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
    /// The metrics of a service over `redis`.
    #[must_use]
    pub fn new(redis: Redis) -> Arc<Self> {
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
        registry.register_collector(Box::new(RedisCollector { redis }));
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

/// Reads the Redis handle's pool and scripts at each scrape.
#[derive(Debug)]
struct RedisCollector {
    redis: Redis,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScriptLabels {
    script: &'static str,
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

impl Collector for RedisCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        self.encode_pool(&mut encoder)?;
        self.encode_calls(&mut encoder)?;
        self.encode_scripts(&mut encoder)
    }
}

impl RedisCollector {
    fn encode_pool(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let pool = self.redis.pool_statistics();
        let gauge = ConstGauge::new(0_i64);
        let mut family = encoder.encode_descriptor(
            "redis_pool_connections",
            "Redis connections of the pool, open and idle",
            None,
            gauge.metric_type(),
        )?;
        for (state, n) in [("open", pool.open), ("idle", pool.idle)] {
            ConstGauge::new(i64::from(n)).encode(family.encode_family(&StateLabels { state })?)?;
        }
        for (name, help, value) in [
            (
                "redis_pool_waited",
                "Pool checkouts that had to wait for a connection",
                pool.waited,
            ),
            (
                "redis_pool_timed_out",
                "Pool checkouts that gave up waiting",
                pool.timed_out,
            ),
            (
                "redis_connections_created",
                "Redis connections made",
                pool.created,
            ),
            (
                "redis_connections_broken",
                "Redis connections dropped after failing",
                pool.broken,
            ),
        ] {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let wait = ConstCounter::new(pool.wait_time.as_secs_f64());
        wait.encode(encoder.encode_descriptor(
            "redis_pool_wait_seconds",
            "Time spent waiting for a pooled connection",
            None,
            wait.metric_type(),
        )?)
    }

    fn encode_calls(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let errors = self.redis.error_counts();
        let mut family = encoder.encode_descriptor(
            "redis_errors",
            "Failed Redis calls, by how the service read them",
            None,
            ConstCounter::new(0_u64).metric_type(),
        )?;
        for (kind, n) in errors {
            ConstCounter::new(n).encode(family.encode_family(&KindLabels { kind })?)?;
        }

        let resends = self.redis.cluster_resends();
        if !resends.is_empty() {
            let mut family = encoder.encode_descriptor(
                "redis_cluster_resends",
                "Script calls the Redis Cluster did not run and that were sent again, by reason",
                None,
                ConstCounter::new(0_u64).metric_type(),
            )?;
            for (reason, n) in resends {
                ConstCounter::new(n).encode(family.encode_family(&ReasonLabels { reason })?)?;
            }
        }
        Ok(())
    }

    fn encode_scripts(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let states = self.redis.script_states().snapshot();
        let mut reloads = encoder.encode_descriptor(
            "script_reloads",
            "Script loads after the first, by script and Redis node (NOSCRIPT, restarts, SCRIPT FLUSH)",
            None,
            ConstCounter::new(0_u64).metric_type(),
        )?;
        for (node, scripts) in &states {
            for (script, state) in crate::redis::Script::ALL.iter().zip(scripts) {
                let labels = ScriptLabels {
                    script: script.name(),
                    node: node.clone(),
                };
                ConstCounter::new(state.reloads).encode(reloads.encode_family(&labels)?)?;
            }
        }
        let mut loaded = encoder.encode_descriptor(
            "script_loaded",
            "Whether the script was loaded on the node at the last check (1) or not (0)",
            None,
            ConstGauge::new(0_i64).metric_type(),
        )?;
        for (node, scripts) in &states {
            for (script, state) in crate::redis::Script::ALL.iter().zip(scripts) {
                let labels = ScriptLabels {
                    script: script.name(),
                    node: node.clone(),
                };
                ConstGauge::new(i64::from(state.loaded)).encode(loaded.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
