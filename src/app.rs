//! Wiring: configuration in, a serving process out. Tests and the binary
//! go through the same `serve`.

use std::{future::Future, sync::Arc};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tonic::{
    service::{Routes, RoutesBuilder},
    transport::{
        Certificate, Identity, Server as GrpcServer, ServerTlsConfig, server::TcpIncoming,
    },
};
use tonic_health::pb::health_server::HealthServer;

use crate::{
    auth::Access,
    config::{Config, Server},
    deadline::Deadline,
    dev_redis::RedisProcess,
    grpc::{self, Admin, layer::RpcLayer},
    health::{DrainingHealth, Health},
    lifecycle::{self, Lifecycle},
    ops::{Context, Waiters},
    redis::{Redis, RedisConfig},
    telemetry::{self, metrics::Metrics},
    watch::Watches,
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
            grpc: bind(config.server.listen).await?,
            metrics: match config.telemetry.metrics_listen {
                Some(addr) => Some(bind(addr).await?),
                None => None,
            },
            health: match config.health.health_listen {
                Some(addr) => Some(bind(addr).await?),
                None => None,
            },
        })
    }
}

/// Runs the service until SIGTERM or SIGINT: the binary's whole life.
pub async fn run(mut config: Config) -> anyhow::Result<()> {
    let telemetry = telemetry::init(config.telemetry.log_format, &config.telemetry.log)?;
    // Held until the end: dropping it stops the dev Redis.
    let mut dev_redis = None;
    if config.redis.urls.is_empty() {
        anyhow::ensure!(
            config.redis.dev,
            "no Redis: pass --redis-url (RMW_REDIS_URL), or --dev to start a private redis-server"
        );
        let redis = RedisProcess::start(&[]).await.context("--dev")?;
        tracing::info!(url = %redis.url(), "started a private redis-server (--dev): its data is thrown away at exit");
        config.redis.urls = vec![dev_redis.insert(redis).url()];
    }
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
        tls = config.server.tls_cert.is_some(),
        "serving gRPC"
    );
    let summaries = tokio::spawn(telemetry.throttle.clone().summarise());
    let served = serve(&config, listeners, lifecycle::signal_received()).await;
    summaries.abort();
    drop(dev_redis);
    // The exporter needs the runtime to send what is buffered, so the
    // blocking flush runs beside it, not on it.
    tokio::task::spawn_blocking(move || telemetry.flush()).await?;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Serves on `listeners` against the configured Redis until `shutdown`
/// resolves, then drains: health turns NOT_SERVING at once, in-flight RPCs
/// finish (for at most the drain timeout), and this returns.
pub async fn serve(
    config: &Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    config.validate().map_err(anyhow::Error::msg)?;
    let cx = context(config)?;
    let redis = cx.redis.clone();
    let life = Lifecycle::new();
    // Every watch ends (UNAVAILABLE: resume elsewhere) as shutdown begins,
    // so that none holds the drain up.
    let watches = Watches::new(
        cx.clone(),
        config.server.max_watches as usize,
        life.stopping.clone(),
    );
    let access = Access::load(&config.access)?;
    let metrics = Metrics::new(
        redis.collector(),
        &watches.metrics(),
        &cx.lease_waiters,
        &access,
    );

    let mut routes = RoutesBuilder::default();
    let limit = config.server.max_message_bytes as usize;
    let services = grpc::add_api(&mut routes, &cx, &watches, limit);
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
    background(&life, &health, &cx, config, &access);
    let health_service =
        || HealthServer::new(DrainingHealth::new(reporter.clone(), life.drained.clone()));
    routes.add_service(health_service());
    let admin = Admin::new(cx.clone(), health.clone());
    grpc::add_admin(&mut routes, admin, config.server.max_message_bytes as usize);
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
        let server = GrpcServer::builder()
            .add_service(health_service())
            .serve_with_incoming_shutdown(incoming, life.drained.clone().cancelled_owned());
        life.spawn("health server", server);
    }

    // Outside in: CORS, then Connect and gRPC-Web turned into gRPC, so
    // every call passes the one per-RPC layer whatever carried it.
    let stack = tower::ServiceBuilder::new()
        .option_layer(crate::http::cors(&config.http.cors_origins)?)
        .layer(crate::http::ConnectLayer::new(
            Arc::new(crate::http::Methods::load()?),
            limit,
        ))
        .layer(RpcLayer::new(
            config.server.default_timeout,
            config.server.max_timeout,
            metrics,
            access,
        ));
    // The builder's TCP_NODELAY does not reach `serve_with_incoming`; set on
    // the incoming stream, it spares every reply a 40 ms delayed-ACK stall.
    let incoming = TcpIncoming::from(listeners.grpc).with_nodelay(Some(true));
    let server = grpc_server(&config.server)?
        .layer(stack)
        .add_routes(with_console(routes, config.http.console))
        .serve_with_incoming_shutdown(incoming, signal);

    let drain_timeout = config.server.drain_timeout;
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
    watches.join(drain_timeout).await;
    result.and(joined)
}

/// Starts the background work: health checks, the hold sweep and the
/// access settings' reloads.
fn background(
    life: &Lifecycle,
    health: &Health,
    cx: &Context,
    config: &Config,
    access: &Arc<Access>,
) {
    life.spawn(
        "access reload",
        Arc::clone(access).watch(life.stopping.clone()),
    );
    let checks = health.clone().watch(
        cx.redis.clone(),
        config.health.health_interval,
        life.stopping.clone(),
    );
    life.spawn("health checks", async move {
        checks.await;
        anyhow::Ok(())
    });
    life.spawn(
        "hold sweep",
        sweep(
            cx.clone(),
            config.redis.hold_sweep_interval,
            life.stopping.clone(),
        ),
    );
}

/// Ends due holds of stores nobody touches, every `interval`, until
/// `stopping`. A failed sweep is logged and the next one tries again: the
/// sweep only makes expiries show sooner (`ops::sweep_holds`), and Redis
/// being away is the health checks' to report.
async fn sweep(
    cx: Context,
    interval: std::time::Duration,
    stopping: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    // The first sweep one interval after the start, not at it.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stopping.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let deadline = Deadline::after(interval.max(std::time::Duration::from_secs(1)));
        match crate::ops::sweep_holds(&cx, deadline).await {
            Ok(0) => {}
            Ok(ended) => tracing::debug!(ended, "hold sweep ended due holds"),
            Err(error) => tracing::debug!(%error, "hold sweep failed; trying again next time"),
        }
    }
}

/// What every operation runs with: the configured Redis (connected in the
/// background) and the key layout and settings of its data.
fn context(config: &Config) -> anyhow::Result<Context> {
    let settings = &config.redis;
    let redis = Redis::new(&RedisConfig {
        urls: settings.urls.clone(),
        cluster: settings.is_cluster(),
        pool_size: settings.pool_size,
        pool_wait: settings.pool_wait,
        pool_mode: settings.pool_mode,
        max_timeout: config.server.max_timeout,
        certificates: settings.certificates().map_err(anyhow::Error::msg)?,
    })
    .context("bad Redis URL or TLS settings")?;
    Ok(Context {
        redis,
        keys: settings.key_prefix.clone(),
        idempotency_ttl: settings.idempotency_ttl,
        cluster: settings.is_cluster(),
        ledger_retention: settings.ledger_retention,
        movements_retention: settings.movements_retention,
        journal_retention: settings.record_journal_retention,
        clock_skew_secs: settings.clock_skew_secs,
        limits: config.limits,
        lease_waiters: Arc::new(Waiters::new(config.server.max_lease_waiters as usize)),
    })
}

/// The server the API is served by: HTTP/2 streams per connection, TLS,
/// and HTTP/1.1 beside HTTP/2 for Connect and gRPC-Web callers (curl,
/// browsers, proxies that only pass HTTP/1.1).
fn grpc_server(config: &Server) -> anyhow::Result<GrpcServer> {
    let builder = GrpcServer::builder()
        .max_concurrent_streams(config.max_concurrent_streams)
        .accept_http1(true);
    Ok(match tls_config(config)? {
        Some(tls) => builder.tls_config(tls)?,
        None => builder,
    })
}

/// The API's routes, and the console's pages when `console` is set.
fn with_console(api: RoutesBuilder, console: bool) -> Routes {
    if console {
        api.routes()
            .into_axum_router()
            .merge(crate::http::console::routes())
            .into()
    } else {
        api.routes()
    }
}

/// TLS (and mutual TLS) from the configured PEM files.
fn tls_config(config: &Server) -> anyhow::Result<Option<ServerTlsConfig>> {
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
