//! Configuration: flags, each with an `RMW_*` environment variable.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, ValueEnum};

use crate::redis::PoolMode;

/// rmw — atomic read-modify-write operations on Redis, over gRPC.
#[derive(Clone, Debug, Parser)]
#[command(version, about, long_about = None, args_override_self = true)]
pub struct Config {
    /// Address to serve gRPC on.
    #[arg(long, env = "RMW_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,

    /// Redis URL: `redis://[user:password@]host:port[/db]`, or `rediss://`
    /// for TLS (the server certificate is checked against the system's
    /// roots, or the file `SSL_CERT_FILE` names). For a Redis Cluster,
    /// comma-separated URLs of seed nodes (one is enough).
    #[arg(long, env = "RMW_REDIS_URL")]
    pub redis_url: Option<String>,

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
    /// UNAVAILABLE.
    #[arg(long, env = "RMW_POOL_WAIT", default_value = "1s", value_parser = duration)]
    pub pool_wait: Duration,

    /// How requests use pooled connections: `shared` pipelines concurrent
    /// requests onto few sockets, `exclusive` holds one per request.
    #[arg(long, env = "RMW_POOL_MODE", value_enum, default_value_t = PoolMode::Shared)]
    pub pool_mode: PoolMode,

    /// Prefix of every Redis key: 1–64 characters of `[A-Za-z0-9._:-]`.
    #[arg(long, env = "RMW_KEY_PREFIX", default_value = "rmw")]
    pub key_prefix: String,

    /// How long a `request_id`'s reply is kept for replays (and a deleted
    /// record's version is kept).
    #[arg(long, env = "RMW_IDEMPOTENCY_TTL", default_value = "24h", value_parser = duration)]
    pub idempotency_ttl: Duration,

    /// Approximate most entries kept in each movements or audit stream
    /// (`XADD … MAXLEN ~`); older entries are trimmed.
    #[arg(long, env = "RMW_STREAM_MAX_LEN", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub stream_max_len: u64,

    /// Seconds added to Redis's clock when telling days apart, for tests of
    /// the daily quota rollover only. Callers cannot move the clock.
    #[arg(
        long,
        env = "RMW_QUOTA_CLOCK_SKEW_SECS",
        default_value_t = 0,
        hide = true,
        allow_negative_numbers = true
    )]
    pub quota_clock_skew_secs: i64,

    /// Deadline of a request whose caller set none.
    #[arg(long, env = "RMW_DEFAULT_TIMEOUT", default_value = "5s", value_parser = duration)]
    pub default_timeout: Duration,

    /// How often Redis and its scripts are checked for health.
    #[arg(long, env = "RMW_HEALTH_INTERVAL", default_value = "500ms", value_parser = duration)]
    pub health_interval: Duration,

    /// After SIGTERM, how long in-flight requests may take to finish.
    #[arg(long, env = "RMW_DRAIN_TIMEOUT", default_value = "20s", value_parser = duration)]
    pub drain_timeout: Duration,

    /// Serve Prometheus metrics on this address (`/metrics`); off when
    /// unset.
    #[arg(long, env = "RMW_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Also serve `grpc.health.v1.Health`, and nothing else, in plaintext
    /// on this address: for probes that cannot speak TLS (Kubernetes' gRPC
    /// probes) when `--tls-cert` is set.
    #[arg(long, env = "RMW_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,

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

    /// The longest value or record key accepted, in bytes.
    #[arg(long, env = "RMW_MAX_KEY_BYTES", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_key_bytes: u32,

    /// Most products, levels or accounts in one request (SetStock,
    /// GetStock, PlaceOrder, GetBalances).
    #[arg(long, env = "RMW_MAX_ITEMS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub max_items: u32,

    /// Most RPCs in flight on one client connection (HTTP/2
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`); more wait in the client.
    #[arg(long, env = "RMW_MAX_CONCURRENT_STREAMS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_streams: u32,

    /// Runtime threads: 1 runs everything on one thread (tokio's
    /// current-thread runtime: half the CPU per call of a 2-thread pool in
    /// BENCHMARKS.md; scale out with replicas), N > 1 a work-stealing pool
    /// of N, 0 one per CPU core.
    #[arg(long, env = "RMW_WORKER_THREADS", default_value_t = 1)]
    pub worker_threads: usize,

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

fn duration(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults of SPEC §6, and durations in human units.
    #[test]
    fn defaults_and_durations() {
        let config = Config::try_parse_from(["rmw", "--pool-wait", "250ms"]).unwrap();
        assert_eq!(config.listen, "0.0.0.0:50051".parse().unwrap());
        assert_eq!(config.key_prefix, "rmw");
        assert_eq!(config.idempotency_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(config.pool_wait, Duration::from_millis(250));
        assert!(Config::try_parse_from(["rmw", "--pool-size", "0"]).is_err());
        assert!(Config::try_parse_from(["rmw", "--default-timeout", "soon"]).is_err());
    }
}
