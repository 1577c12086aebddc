//! Wiring: configuration in, a serving process out. Tests and the binary
//! go through the same `serve`.

use std::future::Future;

use anyhow::Context as _;
use tokio::{net::TcpListener, sync::watch};
use tonic::{
    service::RoutesBuilder,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::pb::health_server::HealthServer;

use crate::{
    config::Config,
    dev_redis::RedisProcess,
    grpc::{self, health::DrainingHealth, layer::RpcLayer},
    health::Readiness,
    ops::{Context, Keyspace},
    redis::{Redis, RedisConfig},
    shutdown, telemetry,
};

/// Runs the service until SIGTERM or SIGINT: the binary's whole life.
pub async fn run(config: Config) -> anyhow::Result<()> {
    telemetry::init(config.log_format, &config.log)?;
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
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(addr = %config.listen, "serving gRPC");
    serve(&config, &url, listener, shutdown::signal_received()).await?;
    drop(dev_redis);
    tracing::info!("stopped");
    Ok(())
}

/// Serves on `listener` against the Redis at `redis_url` until `shutdown`
/// resolves, then drains: health turns NOT_SERVING at once, in-flight RPCs
/// finish (for at most the drain timeout), and this returns.
pub async fn serve(
    config: &Config,
    redis_url: &str,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let redis = Redis::new(&RedisConfig {
        url: redis_url.to_owned(),
        pool_size: config.pool_size,
        pool_wait: config.pool_wait,
        pool_mode: config.pool_mode,
    })
    .context("bad Redis URL")?;
    let cx = Context {
        redis: redis.clone(),
        keys: Keyspace::new(&config.key_prefix).map_err(anyhow::Error::msg)?,
        idempotency_ttl: config.idempotency_ttl,
        cluster: false,
        stream_max_len: config.stream_max_len,
        clock_skew_secs: config.quota_clock_skew_secs,
    };

    let mut routes = RoutesBuilder::default();
    let services = grpc::add_api(&mut routes, &cx, &redis);
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
    let readiness = Readiness::new(reporter.clone(), services);
    readiness.starting().await;
    let (stop, stopped) = watch::channel(false);
    let watcher = tokio::spawn(readiness.clone().watch(
        redis.clone(),
        config.health_interval,
        stopped,
    ));
    let (draining_tx, mut draining) = watch::channel(false);
    routes.add_service(HealthServer::new(DrainingHealth::new(
        reporter,
        draining.clone(),
    )));
    let signal = async {
        shutdown.await;
        tracing::info!("shutting down: NOT_SERVING, draining in-flight requests");
        let _ = stop.send(true);
        readiness.shut_down().await;
        let _ = draining_tx.send(true);
    };

    // The builder's TCP_NODELAY does not reach `serve_with_incoming`; set on
    // the incoming stream, it spares every reply a 40 ms delayed-ACK stall.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = Server::builder()
        .layer(RpcLayer::new(config.default_timeout))
        .add_routes(routes.routes())
        .serve_with_incoming_shutdown(incoming, signal);

    let drain_timeout = config.drain_timeout;
    tokio::select! {
        result = server => result.context("gRPC server failed")?,
        () = async {
            let _ = draining.wait_for(|&d| d).await;
            tokio::time::sleep(drain_timeout).await;
        } => tracing::warn!(?drain_timeout, "drain timeout passed; in-flight requests are dropped"),
    }
    let _ = watcher.await;
    Ok(())
}
