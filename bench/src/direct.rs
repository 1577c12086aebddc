//! The same scripts without rmw: `redis-benchmark` (the limit), and
//! redis-py's `register_script` (what a team would write instead).

use std::{path::Path, process::Command, time::Duration};

use anyhow::{Context, bail};

use crate::ops::{KEYS, Op};

/// What `redis-benchmark` measured.
#[derive(Clone, Copy, Debug)]
pub struct Direct {
    /// Requests per second.
    pub rate: f64,
    /// Median latency, ms.
    pub p50: f64,
    /// 99th percentile latency, ms.
    pub p99: f64,
}

/// Runs `op`'s script with `redis-benchmark` at `clients` connections and
/// `pipeline` requests in flight each, for about `duration`.
pub fn redis_benchmark(
    port: u16,
    op: Op,
    clients: usize,
    pipeline: usize,
    duration: Duration,
) -> anyhow::Result<Direct> {
    // A short probe sizes the measured run to the duration asked for.
    let probe = run(port, op, clients, pipeline, 20_000)?;
    let requests = ((probe.rate * duration.as_secs_f64()) as u64).max(20_000);
    run(port, op, clients, pipeline, requests)
}

fn run(
    port: u16,
    op: Op,
    clients: usize,
    pipeline: usize,
    requests: u64,
) -> anyhow::Result<Direct> {
    let (command, keyspace) = op.direct_command();
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-c", &clients.to_string(), "-P", &pipeline.to_string()])
        .args([
            "-n",
            &requests.to_string(),
            "-r",
            &keyspace.to_string(),
            "--csv",
        ])
        .args(&command)
        .output()
        .context("run redis-benchmark (apt-get install -y redis-tools)")?;
    if !output.status.success() {
        bail!(
            "redis-benchmark failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    parse_csv(&text).with_context(|| format!("unexpected redis-benchmark output: {text}"))
}

/// Reads `redis-benchmark --csv`: a header line, then one line of quoted
/// fields: test, rps, avg, min, p50, p95, p99, max.
fn parse_csv(text: &str) -> anyhow::Result<Direct> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = fields(lines.next().context("no header")?);
    let values: Vec<String> = fields(lines.next().context("no values")?);
    let get = |name: &str| -> anyhow::Result<f64> {
        let at = header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("no {name}"))?;
        Ok(values.get(at).context("short line")?.parse()?)
    };
    Ok(Direct {
        rate: get("rps")?,
        p50: get("p50_latency_ms")?,
        p99: get("p99_latency_ms")?,
    })
}

fn fields(line: &str) -> Vec<String> {
    line.split("\",\"")
        .map(|f| f.trim_matches('"').to_owned())
        .collect()
}

/// How redis-py is driven.
#[derive(Clone, Copy, Debug)]
pub enum PyMode {
    /// One thread, one connection, a call at a time.
    Thread,
    /// asyncio, `tasks` coroutines sharing a connection pool.
    Asyncio(usize),
}

/// Runs `op`'s script from Python through redis-py's `register_script`
/// for `duration`; the calls per second.
pub fn redis_py(
    python: &Path,
    port: u16,
    op: Op,
    mode: PyMode,
    duration: Duration,
) -> anyhow::Result<f64> {
    let script = std::env::temp_dir().join(format!("rmw-bench-{}.lua", op.script().name()));
    std::fs::write(&script, op.script().source())?;
    let tasks = match mode {
        PyMode::Thread => 0,
        PyMode::Asyncio(tasks) => tasks,
    };
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/redis_py.py");
    let output = Command::new(python)
        .arg(harness)
        .args(["--port", &port.to_string(), "--op", op.script().name()])
        .args(["--script", &script.display().to_string()])
        .args(["--seconds", &duration.as_secs_f64().to_string()])
        .args(["--tasks", &tasks.to_string(), "--keys", &KEYS.to_string()])
        .output()
        .context("run python")?;
    if !output.status.success() {
        bail!(
            "redis-py run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("rate="))
        .with_context(|| format!("unexpected output: {text}"))?;
    Ok(rate.trim().parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CSV of redis-benchmark 7.0.
    #[test]
    fn parses_redis_benchmark_csv() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"EVALSHA 1 2\",\"79681.27\",\"0.412\",\"0.096\",\"0.391\",\"0.647\",\"0.807\",\"2.519\"\n";
        let direct = parse_csv(text).unwrap();
        assert!((direct.rate - 79681.27).abs() < 1e-6);
        assert!((direct.p50 - 0.391).abs() < 1e-9);
        assert!((direct.p99 - 0.807).abs() < 1e-9);
    }
}
