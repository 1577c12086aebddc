//! rmw's one harness, for its tests and its benchmark: a private
//! redis-server per test (or a cluster of them), and the service started
//! every way it runs — in-process through the production wiring
//! (`app::serve`), plain or with TLS, with its health and metrics ports,
//! or as the `rmw` binary.

// Helpers of tests, whose results tests always use, and fixtures built
// one way: these pedantic lints add nothing here.
#![allow(clippy::must_use_candidate, clippy::new_without_default)]

pub mod cluster;
pub mod http;
pub mod linearizability;
pub mod load;
pub mod pki;
pub mod proxy;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    process::Stdio,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use clap::Parser;
use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioExecutor};
use redis::aio::MultiplexedConnection;
use rmw::{
    config::Config,
    dev_redis::RedisProcess,
    proto::v1::{
        admin_service_client::AdminServiceClient, counters_service_client::CountersServiceClient,
        inventory_service_client::InventoryServiceClient,
        leases_service_client::LeasesServiceClient, ledger_service_client::LedgerServiceClient,
        records_service_client::RecordsServiceClient,
        sequences_service_client::SequencesServiceClient,
        values_service_client::ValuesServiceClient,
    },
};
use tokio::{net::TcpListener, process::Child, sync::oneshot, task::JoinHandle, time::Instant};
use tonic::{
    Code, Status,
    transport::{Channel, ClientTlsConfig, Endpoint},
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_types::{ErrorDetails, StatusExt};

/// A bare HTTP/2 client.
pub type RawClient = hyper_util::client::legacy::Client<HttpConnector, tonic::body::Body>;

/// A private redis-server for one test; killed when dropped.
pub async fn redis(args: &[&str]) -> RedisProcess {
    RedisProcess::start(args)
        .await
        .expect("start redis-server (apt-get install -y redis-server)")
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The service, running in-process.
pub struct Service {
    /// Where it serves gRPC.
    pub addr: SocketAddr,
    /// Where its Prometheus metrics are served.
    pub metrics_addr: SocketAddr,
    /// Where it serves health alone, in plaintext (`--health-listen`):
    /// readiness is read there, whether gRPC is TLS or not.
    pub health_addr: SocketAddr,
    health_channel: Channel,
    /// Whether gRPC is served over TLS (then `channel` cannot reach it).
    tls: bool,
    /// The key prefix of this test, unique in the process.
    pub prefix: String,
    /// A plaintext channel to its gRPC port.
    pub channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Service {
    /// The service against `redis_url`, with a unique prefix, a fast
    /// health check and no hold sweep within a test's life (tests that
    /// count calls to Redis would count it; the holds tests ask for one).
    pub async fn start(redis_url: &str) -> Self {
        Self::start_with(redis_url, &[]).await
    }

    /// The service with extra command-line `args` (`--tls-cert` and the
    /// like included: see [`Service::channel_with`]).
    pub async fn start_with(redis_url: &str, args: &[&str]) -> Self {
        Self::start_under(redis_url, &unique_prefix(), args).await
    }

    /// A second instance beside this one: the same Redis and key prefix,
    /// as a deployment's replicas share them.
    pub async fn beside(&self, redis_url: &str) -> Self {
        Self::start_under(redis_url, &self.prefix, &[]).await
    }

    async fn start_under(redis_url: &str, prefix: &str, args: &[&str]) -> Self {
        // Internal errors reach callers as a bare "internal error"; their
        // cause is in the log, which a failing test prints.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("rmw=error"))
            .with_test_writer()
            .try_init();
        let prefix = prefix.to_owned();
        let mut command_line = vec![
            "rmw",
            "--redis-url",
            redis_url,
            "--listen",
            "127.0.0.1:0",
            "--key-prefix",
            &prefix,
            "--health-interval",
            "100ms",
            "--hold-sweep-interval",
            "1h",
        ];
        command_line.extend_from_slice(args);
        let config = Config::try_parse_from(command_line).expect("test config");
        let tls = config.server.tls_cert.is_some();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_addr = metrics.local_addr().unwrap();
        let health = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let health_addr = health.local_addr().unwrap();
        let listeners = rmw::app::Listeners {
            grpc: listener,
            metrics: Some(metrics),
            health: Some(health),
        };
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            rmw::app::serve(&config, listeners, async {
                let _ = stopped.await;
            })
            .await
        });
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let health_channel = Endpoint::from_shared(format!("http://{health_addr}"))
            .unwrap()
            .connect_lazy();
        Self {
            addr,
            metrics_addr,
            health_addr,
            health_channel,
            tls,
            prefix,
            channel,
            stop: Some(stop),
            task,
        }
    }

    /// A ValuesService client.
    pub fn values(&self) -> ValuesServiceClient<Channel> {
        ValuesServiceClient::new(self.channel.clone())
    }

    /// A ValuesService client on a bare HTTP/2 connection. tonic's own
    /// channel enforces `grpc-timeout` locally and reports CANCELLED
    /// itself when it passes; this one leaves the deadline to the server,
    /// so tests see the server's answer. Nagle is off, as in tonic's
    /// channel: with it on, a request's DATA frame could wait for the ACK of
    /// its HEADERS frame, 40 ms of delayed ACK that the server did not spend.
    pub fn values_without_local_deadline(&self) -> ValuesServiceClient<RawClient> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build(connector);
        let origin = format!("http://{}", self.addr).parse().unwrap();
        ValuesServiceClient::with_origin(client, origin)
    }

    /// A LeasesService client.
    pub fn leases(&self) -> LeasesServiceClient<Channel> {
        LeasesServiceClient::new(self.channel.clone())
    }

    /// A RecordsService client.
    pub fn records(&self) -> RecordsServiceClient<Channel> {
        RecordsServiceClient::new(self.channel.clone())
    }

    /// An InventoryService client.
    pub fn inventory(&self) -> InventoryServiceClient<Channel> {
        InventoryServiceClient::new(self.channel.clone())
    }

    /// A CountersService client.
    pub fn counters(&self) -> CountersServiceClient<Channel> {
        CountersServiceClient::new(self.channel.clone())
    }

    /// A LedgerService client.
    pub fn ledger(&self) -> LedgerServiceClient<Channel> {
        LedgerServiceClient::new(self.channel.clone())
    }

    /// A SequencesService client.
    pub fn sequences(&self) -> SequencesServiceClient<Channel> {
        SequencesServiceClient::new(self.channel.clone())
    }

    /// An AdminService client.
    pub fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel.clone())
    }

    /// A channel to the gRPC port: over TLS with `tls`, else plaintext;
    /// connected now, so a refused handshake is its error.
    pub async fn channel_with(
        &self,
        tls: Option<ClientTlsConfig>,
    ) -> Result<Channel, tonic::transport::Error> {
        match tls {
            Some(tls) => {
                Endpoint::from_shared(format!("https://{}", self.addr))
                    .unwrap()
                    .tls_config(tls)?
                    .connect()
                    .await
            }
            None => {
                Endpoint::from_shared(format!("http://{}", self.addr))
                    .unwrap()
                    .connect()
                    .await
            }
        }
    }

    /// The health status of `service` on the health port, or the error of
    /// asking.
    pub async fn health(&self, service: &str) -> Result<ServingStatus, Status> {
        let response = HealthClient::new(self.health_channel.clone())
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await?;
        Ok(response.into_inner().status())
    }

    /// Waits until `service` reports `want`, polling; panics after `within`.
    /// Returns how long it took.
    pub async fn wait_health(
        &self,
        service: &str,
        want: ServingStatus,
        within: Duration,
    ) -> Duration {
        let start = Instant::now();
        loop {
            if self.health(service).await.ok() == Some(want) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "health of {service:?} not {want:?} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the service is ready; in plaintext, `channel` is then
    /// connected, its HTTP/2 settings (`--max-concurrent-streams`) known,
    /// as a client's that has made a call.
    pub async fn ready(self) -> Self {
        self.wait_health("", ServingStatus::Serving, Duration::from_secs(10))
            .await;
        if !self.tls {
            HealthClient::new(self.channel.clone())
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .expect("the gRPC port answers health too");
        }
        self
    }

    /// Stops the service gracefully and returns what `serve` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("serve task")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A redis-server and the service in front of it, ready.
pub struct Env {
    /// The private redis-server.
    pub redis: RedisProcess,
    /// The service in front of it, ready.
    pub service: Service,
}

impl Env {
    /// A fresh Redis and a ready service with the default settings.
    pub async fn start() -> Self {
        Self::start_with(&[], &[]).await
    }

    /// A fresh Redis started with `redis_args` and a ready service with `service_args`.
    pub async fn start_with(redis_args: &[&str], service_args: &[&str]) -> Self {
        let redis = redis(redis_args).await;
        let service = Service::start_with(&redis.url(), service_args)
            .await
            .ready()
            .await;
        Self { redis, service }
    }

    /// A direct connection to the test's Redis.
    pub async fn conn(&self) -> MultiplexedConnection {
        connect(&self.redis.url()).await
    }

    /// Every key under the test's prefix with its serialized value and TTL.
    pub async fn snapshot(&self) -> BTreeMap<Vec<u8>, (Vec<u8>, i64)> {
        snapshot(&mut self.conn().await, &self.service.prefix).await
    }
}

/// A free loopback port, for a port a process must be told (a listener
/// the harness binds itself is better: nothing can take it meanwhile).
pub fn free_port() -> u16 {
    rmw::dev_redis::free_port().expect("a free loopback port")
}

/// The `rmw` binary of this build: beside the running executable, or one
/// folder up from a test's `deps/`.
#[must_use]
pub fn rmw_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the running executable");
    let mut dir = exe.parent().expect("a folder").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let binary = dir.join("rmw");
    assert!(
        binary.exists(),
        "{} not found: build it (cargo build --workspace)",
        binary.display()
    );
    binary
}

/// The `rmw` binary, running in a process group of its own.
pub struct Binary {
    /// The process.
    pub child: Child,
    /// Its gRPC endpoint.
    pub endpoint: Endpoint,
    /// A channel to it.
    pub channel: Channel,
}

impl Binary {
    /// Starts the binary with `args` on a free loopback port and waits
    /// until it is ready.
    pub async fn spawn(args: &[&str]) -> Self {
        Self::spawn_with_env(args, &[]).await
    }

    /// Starts the binary with `args` and environment variables `env`.
    pub async fn spawn_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = tokio::process::Command::new(rmw_binary())
            .args(["--listen", &addr, "--health-interval", "100ms"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            // Its own group, so that a failing test can kill it together
            // with a --dev redis-server it started.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
        let started = Instant::now();
        loop {
            if let Ok(channel) = endpoint.connect().await {
                let status = HealthClient::new(channel.clone())
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(|r| r.into_inner().status());
                if status.ok() == Some(ServingStatus::Serving) {
                    return Self {
                        child,
                        endpoint,
                        channel,
                    };
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "rmw never became ready"
            );
            // Often enough that the benchmark's start-up figure is exact
            // to a few milliseconds.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Sends `signal` (e.g. `TERM`) to the binary alone.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // `--` so that the negative pid (the whole group) is not read
            // as an option.
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

/// A direct Redis connection.
pub async fn connect(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("connect to test redis")
}

/// Every key under `prefix`, as `DUMP` serializes it, with its TTL (ms, or
/// -1): equal snapshots mean nothing was written.
pub async fn snapshot(
    conn: &mut MultiplexedConnection,
    prefix: &str,
) -> BTreeMap<Vec<u8>, (Vec<u8>, i64)> {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(conn)
        .await
        .unwrap();
    let mut all = BTreeMap::new();
    for key in keys {
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg(&key)
            .query_async(conn)
            .await
            .unwrap();
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(conn)
            .await
            .unwrap();
        // A TTL counts down between snapshots; whether there is one is what
        // matters.
        all.insert(key, (dump, ttl.signum()));
    }
    all
}

/// How many times Redis ran a command (`INFO commandstats`).
pub async fn command_calls(conn: &mut MultiplexedConnection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    let needle = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&needle))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// Asserts `status` is INVALID_ARGUMENT with ErrorInfo `reason` (domain
/// rmw.v1) and a BadRequest naming exactly `fields`.
pub fn assert_invalid(status: &Status, reason: &str, fields: &[&str]) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details: ErrorDetails = status.get_error_details();
    let info = details.error_info().expect("ErrorInfo");
    assert_eq!(info.reason, reason);
    assert_eq!(info.domain, "rmw.v1");
    let got: Vec<&str> = details
        .bad_request()
        .expect("BadRequest")
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(got, fields, "{status:?}");
}

/// Asserts `status` has `code` and ErrorInfo `reason` in domain rmw.v1.
pub fn assert_error(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    let details = status.get_error_details();
    let info = details.error_info().expect("ErrorInfo");
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        (reason, "rmw.v1")
    );
}

/// The text of `GET /metrics` at `addr`.
pub async fn scrape(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: rmw\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the sample `series` (name and labels, as exposed) in a
/// scrape, if present.
pub fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().unwrap())
    })
}
