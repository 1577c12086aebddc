//! The service under test: the `rmw` binary beside this one, in its own
//! process, so that its CPU time and memory can be read from /proc.

use std::{path::PathBuf, process::Stdio, time::Duration};

use anyhow::{Context, bail};
use tokio::{
    process::{Child, Command},
    time::Instant,
};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::ops::PREFIX;

/// A running `rmw`.
pub struct Service {
    child: Child,
    pid: u32,
    /// Where it serves.
    pub addr: String,
    /// From spawn to health SERVING.
    pub startup: Duration,
}

impl Service {
    /// Starts `rmw` against `redis_url` with `extra` flags, and waits until
    /// it reports SERVING.
    pub async fn start(redis_url: &str, extra: &[String]) -> anyhow::Result<Self> {
        let binary = std::env::current_exe()?.with_file_name("rmw");
        if !binary.exists() {
            bail!(
                "{} not found: build it with `cargo build --release`",
                binary.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let started = Instant::now();
        let child = Command::new(&binary)
            .args([
                "--redis-url",
                redis_url,
                "--listen",
                &addr,
                "--key-prefix",
                PREFIX,
            ])
            .args(["--log", "warn", "--health-interval", "100ms"])
            .args(extra)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let pid = child.id().context("rmw exited at once")?;
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))?;
        loop {
            if let Ok(channel) = endpoint.connect().await {
                let status = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(|r| r.into_inner().status());
                if status.ok() == Some(ServingStatus::Serving) {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("rmw did not become ready in 20 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Self {
            startup: started.elapsed(),
            child,
            pid,
            addr,
        })
    }

    /// `n` client channels to it: several connections spread the load
    /// generator's work (one HTTP/2 connection serialises on one task).
    pub async fn channels(&self, n: usize) -> anyhow::Result<Vec<Channel>> {
        let mut channels = Vec::with_capacity(n);
        for _ in 0..n {
            channels.push(
                Endpoint::from_shared(format!("http://{}", self.addr))?
                    .tcp_nodelay(true)
                    .connect()
                    .await?,
            );
        }
        Ok(channels)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The largest resident set so far, from /proc/<pid>/status (VmHWM).
    pub fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .context("VmHWM")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kib / 1024.0)
    }

    /// Stops it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// CPU time process `pid` used so far (user + system), from
/// /proc/<pid>/stat.
pub fn cpu(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(PathBuf::from(format!("/proc/{pid}/stat")))?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 counted from 1 with pid and
    // comm first: 12 and 13 here. Linux counts them in USER_HZ ticks, 100
    // a second.
    let ticks: u64 = fields.get(11).context("utime")?.parse::<u64>()?
        + fields.get(12).context("stime")?.parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}
