//! Wiring: configuration in, a serving process out. Tests and the binary
//! go through the same `serve`.

use std::{future::Future, sync::Arc};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tonic::{
    service::RoutesBuilder,
    transport::{Certificate, Identity, Server, ServerTlsConfig, server::TcpIncoming},
};
use tonic_health::pb::health_server::HealthServer;

use crate::{
    config::Config,
    dev_redis::RedisProcess,
    grpc::{self, Admin, layer::RpcLayer},
    health::{DrainingHealth, Health},
    lifecycle::{self, Lifecycle},
    ops::Context,
    redis::{Redis, RedisConfig},
    telemetry::{self, metrics::Metrics},
};

/// The sockets the service serves on.
pub struct Listeners {
    /// gRPC.
    pub grpc: TcpListener,
    /// Prometheus `/metrics`, when enabled.
    pub metrics: Option<TcpListener>,
    /// Plaintext health only, when enabled.
    pub health: Option<TcpListener>,
}

impl Listeners {
    /// Binds what `config` asks for: a busy port fails start-up at once.
    pub async fn bind(config: &Config) -> anyhow::Result<Self> {
        let bind = |addr| async move {
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))
        };
        Ok(Self {
            grpc: bind(config.listen).await?,
            metrics: match config.metrics_listen {
                Some(addr) => Some(bind(addr).await?),
                None => None,
            },
            health: match config.health_listen {
                Some(addr) => Some(bind(addr).await?),
                None => None,
            },
        })
    }
}

/// Runs the service until SIGTERM or SIGINT: the binary's whole life.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let telemetry = telemetry::init(config.log_format, &config.log)?;
    // Held until the end: dropping it stops the dev Redis.
    let mut dev_redis = None;
    let url = match (&config.redis_url, config.dev) {
        (Some(url), _) => url.clone(),
        (None, true) => {
            let redis = RedisProcess::start(&[]).await.context("--dev")?;
            tracing::info!(url = %redis.url(), "started a private redis-server (--dev): its data is thrown away at exit");
            dev_redis.insert(redis).url()
        }
        (None, false) => anyhow::bail!(
            "no Redis: pass --redis-url (RMW_REDIS_URL), or --dev to start a private redis-server"
        ),
    };
    let listeners = Listeners::bind(&config).await?;
    // The bound addresses, which differ from the configured ones for port 0.
    let bound = |listener: Option<&TcpListener>| {
        listener
            .and_then(|l| l.local_addr().ok())
            .map_or_else(|| "off".to_owned(), |addr| addr.to_string())
    };
    tracing::info!(
        addr = bound(Some(&listeners.grpc)),
        metrics = bound(listeners.metrics.as_ref()),
        health = bound(listeners.health.as_ref()),
        tls = config.tls_cert.is_some(),
        "serving gRPC"
    );
    let summaries = tokio::spawn(telemetry.throttle.clone().summarise());
    let served = serve(&config, &url, listeners, lifecycle::signal_received()).await;
    summaries.abort();
    drop(dev_redis);
    // The exporter needs the runtime to send what is buffered, so the
    // blocking flush runs beside it, not on it.
    tokio::task::spawn_blocking(move || telemetry.flush()).await?;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Serves on `listeners` against the Redis at `redis_url` until `shutdown`
/// resolves, then drains: health turns NOT_SERVING at once, in-flight RPCs
/// finish (for at most the drain timeout), and this returns.
pub async fn serve(
    config: &Config,
    redis_url: &str,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    config.validate().map_err(anyhow::Error::msg)?;
    let (redis, cluster) = redis(config, redis_url)?;
    let cx = Context {
        redis: redis.clone(),
        keys: config.key_prefix.clone(),
        idempotency_ttl: config.idempotency_ttl,
        cluster,
        stream_max_len: config.stream_max_len,
        clock_skew_secs: config.quota_clock_skew_secs,
        limits: config.limits,
    };
    let metrics = Metrics::new(redis.collector());

    let mut routes = RoutesBuilder::default();
    let services = grpc::add_api(&mut routes, &cx, config.max_message_bytes as usize);
    let advertised: Vec<&'static str> = services
        .iter()
        .copied()
        .chain([
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ])
        .collect();
    grpc::add_reflection(&mut routes, &advertised)?;

    let reporter = tonic_health::server::HealthReporter::new();
    let health = Health::new(reporter.clone(), services);
    health.starting().await;
    let life = Lifecycle::new();
    let checks = health
        .clone()
        .watch(redis.clone(), config.health_interval, life.stopping.clone());
    life.spawn("health checks", async move {
        checks.await;
        anyhow::Ok(())
    });
    let health_service =
        || HealthServer::new(DrainingHealth::new(reporter.clone(), life.drained.clone()));
    routes.add_service(health_service());
    let admin = Admin::new(cx.clone(), health.clone());
    grpc::add_admin(&mut routes, admin, config.max_message_bytes as usize);
    let signal = {
        let life = life.clone();
        async move {
            tokio::select! {
                () = shutdown => {}
                () = life.stopping.cancelled() => {}
            }
            tracing::info!("shutting down: NOT_SERVING, draining in-flight requests");
            life.stopping.cancel();
            health.shut_down().await;
            life.drained.cancel();
        }
    };

    if let Some(listener) = listeners.metrics {
        let drained = life.drained.clone().cancelled_owned();
        life.spawn(
            "metrics server",
            Arc::clone(&metrics).serve(listener, drained),
        );
    }
    if let Some(listener) = listeners.health {
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let server = Server::builder()
            .add_service(health_service())
            .serve_with_incoming_shutdown(incoming, life.drained.clone().cancelled_owned());
        life.spawn("health server", server);
    }

    let mut builder = Server::builder().max_concurrent_streams(config.max_concurrent_streams);
    if let Some(tls) = tls_config(config)? {
        builder = builder.tls_config(tls)?;
    }
    // The builder's TCP_NODELAY does not reach `serve_with_incoming`; set on
    // the incoming stream, it spares every reply a 40 ms delayed-ACK stall.
    let incoming = TcpIncoming::from(listeners.grpc).with_nodelay(Some(true));
    let server = builder
        .layer(RpcLayer::new(
            config.default_timeout,
            config.max_timeout,
            metrics,
        ))
        .add_routes(routes.routes())
        .serve_with_incoming_shutdown(incoming, signal);

    let drain_timeout = config.drain_timeout;
    let result = tokio::select! {
        result = server => result.context("gRPC server failed"),
        () = async {
            life.drained.cancelled().await;
            tokio::time::sleep(drain_timeout).await;
        } => {
            tracing::warn!(?drain_timeout, "drain timeout passed; in-flight requests are dropped");
            Ok(())
        }
    };
    // Whatever ended the server, everything else stops with it and is
    // joined: nothing spawned outlives `serve`.
    life.stopping.cancel();
    life.drained.cancel();
    let joined = life.join(drain_timeout).await;
    result.and(joined)
}

/// The Redis handle for `redis_url` (several URLs: a cluster's seeds), and
/// whether it is a cluster.
fn redis(config: &Config, redis_url: &str) -> anyhow::Result<(Redis, bool)> {
    let urls: Vec<String> = redis_url
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect();
    let cluster = config.redis_cluster || urls.len() > 1;
    let redis = Redis::new(&RedisConfig {
        urls,
        cluster,
        pool_size: config.pool_size,
        pool_wait: config.pool_wait,
        pool_mode: config.pool_mode,
        max_timeout: config.max_timeout,
    })
    .context("bad Redis URL")?;
    Ok((redis, cluster))
}

/// TLS (and mutual TLS) from the configured PEM files.
fn tls_config(config: &Config) -> anyhow::Result<Option<ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let read = |path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
    if let Some(ca) = &config.tls_client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(Some(tls))
}
