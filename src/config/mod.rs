//! Configuration: flags, each with an `RMW_*` environment variable.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

mod access;
mod http;

use clap::{Args, Parser, ValueEnum};
use redis::IntoConnectionInfo;

pub use access::AccessSettings;
pub use http::HttpSettings;

use crate::{
    ops::{Keyspace, Limits, Retention},
    redis::PoolMode,
};

/// rmw — atomic read-modify-write operations on Redis, over gRPC.
#[derive(Clone, Debug, Parser)]
#[command(version, about, long_about = None, args_override_self = true)]
pub struct Config {
    /// How the service serves gRPC.
    #[command(flatten, next_help_heading = "Server")]
    pub server: Server,

    /// Which Redis, and how data lives in it.
    #[command(flatten, next_help_heading = "Redis")]
    pub redis: RedisSettings,

    /// What one request may carry.
    #[command(flatten, next_help_heading = "Limits")]
    pub limits: Limits,

    /// Who may call what.
    #[command(flatten, next_help_heading = "Access control")]
    pub access: AccessSettings,

    /// How browsers reach the API.
    #[command(flatten, next_help_heading = "HTTP and browsers")]
    pub http: HttpSettings,

    /// How health is checked and served.
    #[command(flatten, next_help_heading = "Health")]
    pub health: HealthSettings,

    /// Metrics and logs.
    #[command(flatten, next_help_heading = "Telemetry")]
    pub telemetry: Telemetry,
}

/// How the service serves gRPC.
#[derive(Clone, Debug, Args)]
pub struct Server {
    /// Address to serve gRPC on.
    #[arg(long, env = "RMW_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,

    /// PEM certificate (chain) for gRPC over TLS; needs `--tls-key`.
    #[arg(long, env = "RMW_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for `--tls-cert`.
    #[arg(long, env = "RMW_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate(s): clients must present a certificate they
    /// signed (mutual TLS). Needs `--tls-cert`.
    #[arg(long, env = "RMW_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// Largest request message accepted, in bytes; a larger one is refused
    /// with OUT_OF_RANGE before it is decoded.
    #[arg(long, env = "RMW_MAX_MESSAGE_BYTES", default_value_t = 4 << 20, value_parser = clap::value_parser!(u32).range(1024..))]
    pub max_message_bytes: u32,

    /// Most RPCs in flight on one client connection (HTTP/2
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`); more wait in the client.
    #[arg(long, env = "RMW_MAX_CONCURRENT_STREAMS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_streams: u32,

    /// Most watches (WatchMovements, WatchEntries, WatchRecords) open at
    /// once; more are refused with RESOURCE_EXHAUSTED and a RetryInfo.
    /// Each distinct stream watched holds one Redis connection of its own
    /// (its waiting reader), so this also bounds those.
    #[arg(long, env = "RMW_MAX_WATCHES", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_watches: u32,

    /// Most callers waiting at once for a lease (Acquire with `wait`);
    /// more are refused with RESOURCE_EXHAUSTED and a RetryInfo. Each
    /// lease waited for holds one Redis connection of its own while its
    /// first waiter waits.
    #[arg(long, env = "RMW_MAX_LEASE_WAITERS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_lease_waiters: u32,

    /// Deadline of a request whose caller set none: 1ms to 1h, and at
    /// most `--max-timeout`.
    #[arg(long, env = "RMW_DEFAULT_TIMEOUT", default_value = "5s", value_parser = duration_within(MILLI, HOUR))]
    pub default_timeout: Duration,

    /// The longest deadline a request gets, whatever its caller's
    /// `grpc-timeout` says, so that no caller holds a pooled connection
    /// for hours: 1ms to 1h.
    #[arg(long, env = "RMW_MAX_TIMEOUT", default_value = "30s", value_parser = duration_within(MILLI, HOUR))]
    pub max_timeout: Duration,

    /// After SIGTERM, how long in-flight requests may take to finish: 0s to
    /// 1h.
    #[arg(long, env = "RMW_DRAIN_TIMEOUT", default_value = "20s", value_parser = duration_within(Duration::ZERO, HOUR))]
    pub drain_timeout: Duration,

    /// Runtime threads: 1 runs everything on one thread (tokio's
    /// current-thread runtime: half the CPU per call of a 2-thread pool in
    /// BENCHMARKS.md; scale out with replicas), N > 1 a work-stealing pool
    /// of N (at most 1024), 0 one per CPU core.
    #[arg(long, env = "RMW_WORKER_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub worker_threads: u16,
}

/// Which Redis, and how data lives in it.
#[derive(Clone, Debug, Args)]
pub struct RedisSettings {
    /// Redis URL: `redis://[user:password@]host:port[/db]`, or `rediss://`
    /// for TLS (the server certificate is checked against the system's
    /// roots, or the file `SSL_CERT_FILE` names). For a Redis Cluster,
    /// comma-separated URLs of seed nodes (one is enough).
    #[arg(long = "redis-url", env = "RMW_REDIS_URL", value_name = "URL", value_delimiter = ',', value_parser = redis_url)]
    pub urls: Vec<String>,

    /// PEM client certificate (chain) presented to Redis over `rediss://`,
    /// for a Redis that asks for one (`tls-auth-clients yes`); needs
    /// `--redis-tls-key`.
    #[arg(long, env = "RMW_REDIS_TLS_CERT", requires = "redis_tls_key")]
    pub redis_tls_cert: Option<PathBuf>,

    /// PEM private key of `--redis-tls-cert`.
    #[arg(long, env = "RMW_REDIS_TLS_KEY", requires = "redis_tls_cert")]
    pub redis_tls_key: Option<PathBuf>,

    /// PEM CA certificate(s) that Redis's server certificate must chain to,
    /// instead of the system's roots (or the file `SSL_CERT_FILE` names).
    #[arg(long, env = "RMW_REDIS_TLS_CA")]
    pub redis_tls_ca: Option<PathBuf>,

    /// The Redis URLs are nodes of a Redis Cluster. Implied by several URLs.
    #[arg(long, env = "RMW_REDIS_CLUSTER")]
    pub redis_cluster: bool,

    /// With no Redis URL, start a private `redis-server` (from PATH) for the
    /// life of the process: for development only, its data is thrown away.
    #[arg(long, env = "RMW_DEV")]
    pub dev: bool,

    /// Redis connections in the pool. In shared mode concurrent requests
    /// pipeline onto them, so a few suffice (BENCHMARKS.md).
    #[arg(long, env = "RMW_POOL_SIZE", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub pool_size: u32,

    /// Longest wait for a pooled connection before a request answers
    /// UNAVAILABLE: 1ms to 1h.
    #[arg(long, env = "RMW_POOL_WAIT", default_value = "1s", value_parser = duration_within(MILLI, HOUR))]
    pub pool_wait: Duration,

    /// How requests use pooled connections: `shared` pipelines concurrent
    /// requests onto few sockets, `exclusive` holds one per request.
    #[arg(long, env = "RMW_POOL_MODE", value_enum, default_value_t = PoolMode::Shared)]
    pub pool_mode: PoolMode,

    /// Prefix of every Redis key: 1–64 characters of `[A-Za-z0-9._-]` (no
    /// `:`, which ends the prefix in every key, so that one deployment's
    /// keys can never be another's).
    #[arg(long, env = "RMW_KEY_PREFIX", default_value = "rmw", value_parser = Keyspace::new)]
    pub key_prefix: Keyspace,

    /// How long a `request_id`'s reply is kept for replays (and a deleted
    /// record's version is kept): 1s to 3650d. Shorter would quietly turn
    /// idempotency off for any retry slower than it.
    #[arg(long, env = "RMW_IDEMPOTENCY_TTL", default_value = "24h", value_parser = duration_within(SECOND, MAX_IDEMPOTENCY_TTL))]
    pub idempotency_ttl: Duration,

    /// Which entries the ledger's audit streams (each book's and each
    /// account's journal) keep: `forever` (every entry: the audit trail is
    /// never cut short unless someone decides it), about the newest N
    /// (1 to 2^53-1), or about those of the last age (`90d`; 1ms to 3650d,
    /// by Redis's clock). Older entries are gone for good: ListEntries
    /// stops at the oldest kept.
    #[arg(long, env = "RMW_LEDGER_RETENTION", default_value = "forever", value_parser = Retention::parse)]
    pub ledger_retention: Retention,

    /// Which entries the stock movements streams (each store's and each
    /// product's) keep: `forever`, about the newest N, or about those of
    /// the last age, as `--ledger-retention`.
    #[arg(long, env = "RMW_MOVEMENTS_RETENTION", default_value = "forever", value_parser = Retention::parse)]
    pub movements_retention: Retention,

    /// Which changes the records' change journals (one per tag that
    /// EnableJournal turned on) keep: about the newest N, about those of
    /// the last age, or `forever`, as `--ledger-retention`. A watch
    /// resuming from before the oldest kept is told what it missed.
    #[arg(long, env = "RMW_RECORD_JOURNAL_RETENTION", default_value = "100000", value_parser = Retention::parse)]
    pub record_journal_retention: Retention,

    /// How often the service ends holds that are due in stores nobody
    /// touches (any call that changes a store ends its due holds itself,
    /// and no read counts them): 10ms to 1h.
    #[arg(long, env = "RMW_HOLD_SWEEP_INTERVAL", default_value = "1s", value_parser = duration_within(10 * MILLI, HOUR))]
    pub hold_sweep_interval: Duration,

    /// Seconds added to Redis's clock when telling days apart and when
    /// holds expire, for tests of the daily quota rollover and of holds'
    /// expiry only. Callers cannot move the clock.
    #[arg(
        long,
        alias = "quota-clock-skew-secs",
        env = "RMW_CLOCK_SKEW_SECS",
        default_value_t = 0,
        hide = true,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i64).range(-MAX_CLOCK_SKEW_SECS..=MAX_CLOCK_SKEW_SECS)
    )]
    pub clock_skew_secs: i64,
}

/// How health is checked and served.
#[derive(Clone, Debug, Args)]
pub struct HealthSettings {
    /// How often Redis and its scripts are checked for health: 10ms to 1h.
    #[arg(long, env = "RMW_HEALTH_INTERVAL", default_value = "500ms", value_parser = duration_within(10 * MILLI, HOUR))]
    pub health_interval: Duration,

    /// Also serve `grpc.health.v1.Health`, and nothing else, in plaintext
    /// on this address: for probes that cannot speak TLS (Kubernetes' gRPC
    /// probes) when `--tls-cert` is set.
    #[arg(long, env = "RMW_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,
}

/// Metrics and logs.
#[derive(Clone, Debug, Args)]
pub struct Telemetry {
    /// Serve Prometheus metrics on this address (`/metrics`); off when
    /// unset.
    #[arg(long, env = "RMW_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Log format.
    #[arg(long, env = "RMW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, in `tracing` `EnvFilter` syntax (`info`, `rmw=debug`…).
    #[arg(long, env = "RMW_LOG", default_value = "info")]
    pub log: String,
}

/// How logs are written to stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

const MILLI: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const TEN_YEARS_SECS: u64 = 3650 * 24 * 3600;
/// Ten years: far above any retry window, far below what `SET … PX`
/// accepts, and held exactly by a Lua number (`lua/lib/prelude.lua` checks
/// the same bound before a script's first write).
pub const MAX_IDEMPOTENCY_TTL: Duration = Duration::from_secs(TEN_YEARS_SECS);
/// Ten years of clock skew, for the rollover tests (and the bound
/// `lua/counters_consume_quota.lua` checks).
#[allow(clippy::cast_possible_wrap)]
const MAX_CLOCK_SKEW_SECS: i64 = TEN_YEARS_SECS as i64;
pub use crate::ops::limits::MAX_ITEMS;

/// A parser of durations in human units (`250ms`, `24h`) from `min` to
/// `max`: a setting out of that range is refused at start-up, before it can
/// reach Redis (which would refuse it in the middle of a script) or
/// overflow a clock.
fn duration_within(
    min: Duration,
    max: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text| {
        let value = humantime::parse_duration(text).map_err(|e| e.to_string())?;
        if value < min || value > max {
            return Err(format!(
                "must be from {} to {}",
                humantime::format_duration(min),
                humantime::format_duration(max)
            ));
        }
        Ok(value)
    }
}

/// A `--redis-url` item: a URL redis-rs can connect with, checked at
/// start-up rather than at the first connection.
fn redis_url(text: &str) -> Result<String, String> {
    let url = text.trim();
    url.into_connection_info().map_err(|e| e.to_string())?;
    Ok(url.to_owned())
}

impl Config {
    /// Checks what clap cannot check flag by flag.
    pub fn validate(&self) -> Result<(), String> {
        let server = &self.server;
        if server.default_timeout > server.max_timeout {
            return Err(format!(
                "--default-timeout ({}) must not exceed --max-timeout ({})",
                humantime::format_duration(server.default_timeout),
                humantime::format_duration(server.max_timeout)
            ));
        }
        Ok(())
    }
}

impl RedisSettings {
    /// The client certificate and CA files for `rediss://`, read; `None`
    /// when none is configured.
    pub fn certificates(&self) -> Result<Option<redis::TlsCertificates>, String> {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let client_tls = match (&self.redis_tls_cert, &self.redis_tls_key) {
            (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
                client_cert: read(cert)?,
                client_key: read(key)?,
            }),
            _ => None,
        };
        let root_cert = self.redis_tls_ca.as_ref().map(read).transpose()?;
        if client_tls.is_none() && root_cert.is_none() {
            return Ok(None);
        }
        Ok(Some(redis::TlsCertificates {
            client_tls,
            root_cert,
        }))
    }

    /// Whether the URLs are a Redis Cluster's seeds: said so, or several.
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        self.redis_cluster || self.urls.len() > 1
    }
}

#[cfg(test)]
mod tests;
