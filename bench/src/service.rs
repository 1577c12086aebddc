//! The service under test: the `rmw` binary beside this one, in its own
//! process, so that its CPU time and memory can be read from /proc.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use rmw_testkit::Binary;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use crate::ops::PREFIX;

/// A running `rmw`, started by the harness the tests use.
pub struct Service {
    binary: Binary,
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
        let mut args = vec![
            "--redis-url",
            redis_url,
            "--key-prefix",
            PREFIX,
            "--log",
            "warn",
        ];
        args.extend(extra.iter().map(String::as_str));
        let started = Instant::now();
        let binary = Binary::spawn(&args).await;
        let startup = started.elapsed();
        let pid = binary.child.id().context("rmw exited at once")?;
        let addr = binary
            .endpoint
            .uri()
            .authority()
            .context("an address")?
            .to_string();
        Ok(Self {
            binary,
            pid,
            addr,
            startup,
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
    pub fn stop(self) {
        drop(self.binary);
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
