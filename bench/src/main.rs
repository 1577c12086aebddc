//! rmw-bench: drives rmw over real gRPC and prints ops/s and p50/p99/p999
//! per operation, side by side with the same Lua script run directly by
//! `redis-benchmark` (the limit) and by redis-py (the usual alternative),
//! with the service's CPU per call and peak memory, and draws the
//! throughput and latency curves against concurrency.
//!
//! It starts its own redis-server and the release `rmw` binary beside it:
//! `make bench` (or `cargo build --release --workspace` then
//! `target/release/rmw-bench`).

// Statistics: counts and durations become floats for rates and ratios.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod access;
mod cluster;
mod direct;
mod holds;
mod http;
mod load;
mod ops;
mod report;
mod service;
mod watch;
mod workers;

use std::{fmt::Write as _, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::Parser;
use rmw::dev_redis::RedisProcess;

use crate::{
    direct::{Direct, PyMode},
    load::{Pace, Run},
    ops::Op,
    report::Point,
    service::Service,
};

// The load generator shares the machine with the service and Redis: every
// microsecond it saves is one they get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The concurrency of the headline figures (BENCHMARKS.md, "Targets").
const HEADLINE: usize = 64;

/// Drives rmw and the same scripts directly, and reports.
#[derive(Debug, Parser)]
#[command(about, long_about = None)]
// Each of the flags picks a bench instead of the sweep, as `make bench-*`
// passes them; one enum would read worse on the command line.
#[allow(clippy::struct_excessive_bools)]
struct Args {
    /// Operations to drive.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Op::Cas, Op::Transfer])]
    ops: Vec<Op>,
    /// Concurrent callers at each point of the sweep.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 4, 16, 64, 256])]
    concurrency: Vec<usize>,
    /// Measured time per point.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Unmeasured time before each point.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// gRPC connections the load generator spreads its callers over.
    #[arg(long, default_value_t = 2)]
    channels: usize,
    /// Alternating rmw/direct pairs at 64 callers; the headline is their
    /// median (runs on a shared 2-core machine vary by ±15–20 %).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Where report.md and sweep.svg are written.
    #[arg(long, default_value = "bench-out")]
    out: PathBuf,
    /// A Python with redis-py, for the redis-py comparison (skipped when it
    /// cannot import redis).
    #[arg(long, default_value = ".tools/venv/bin/python")]
    python: PathBuf,
    /// A flag for the rmw service, e.g. `--service-arg=--pool-mode=exclusive`.
    #[arg(long = "service-arg", allow_hyphen_values = true)]
    rmw_flags: Vec<String>,
    /// Threads of the load generator's runtime (1: current-thread, the
    /// cheapest per call, which leaves the most CPU to the service).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,

    /// Instead of the standalone sweep, the scale-out curve: the same
    /// operations against local Redis Clusters of these many primaries
    /// (e.g. `--cluster 1,3,6`), written to cluster.md and cluster.svg.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=16))]
    cluster: Vec<u8>,

    /// Instead of the standalone sweep, the multi-core sweep: rmw started
    /// with each of these `--worker-threads` (e.g. `--workers
    /// 1,2,4,8,16`), written to workers.md and workers.svg. Give the load
    /// generator threads to match (`--client-threads`): the report says
    /// where it, not rmw, was the limit.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Vec<u16>,

    /// Instead of the standalone sweep, the holds' figures (holds.md).
    #[arg(long)]
    holds: bool,

    /// Instead of the standalone sweep, the watches' figures (watch.md).
    #[arg(long)]
    watch: bool,

    /// Instead of the standalone sweep, what access control costs a call
    /// (access.md).
    #[arg(long)]
    access: bool,

    /// Instead of the standalone sweep, CompareAndSwap over gRPC and over
    /// Connect JSON on HTTP/2 and HTTP/1.1 (http.md).
    #[arg(long)]
    http: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = if args.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.client_threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(bench(args))
}

async fn bench(args: Args) -> anyhow::Result<()> {
    if !args.cluster.is_empty() {
        let sizes: Vec<usize> = args.cluster.iter().copied().map(usize::from).collect();
        return cluster::sweep(&args, &sizes).await;
    }
    if args.holds {
        return holds::bench(&args).await;
    }
    if args.watch {
        return watch::bench(&args).await;
    }
    if args.access {
        return access::bench(&args).await;
    }
    if args.http {
        return http::bench(&args).await;
    }
    if !args.workers.is_empty() {
        let counts: Vec<usize> = args.workers.iter().copied().map(usize::from).collect();
        return workers::sweep(&args, &counts).await;
    }
    let redis = RedisProcess::start(&[])
        .await
        .context("start redis-server")?;
    let service = Service::start(&redis.url(), &args.rmw_flags).await?;
    let mut notes = setup(&format!("`{}`", args.rmw_flags.join(" ")));
    let _ = writeln!(
        notes,
        "- load: closed loop, {} gRPC connections, {} s per point after {} s warm-up; direct: `redis-benchmark -P 1` at the same concurrency",
        args.channels,
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64()
    );
    let _ = writeln!(
        notes,
        "- start-up to SERVING: {:.0} ms",
        ms(service.startup)
    );
    print!("{notes}");

    let channels = service.channels(args.channels).await?;

    let mut points = Vec::new();
    for &op in &args.ops {
        for &c in &args.concurrency {
            let point = pair(&args, &service, &channels, &redis, op, c).await?;
            points.push(point);
        }
    }
    let mut headline = String::new();
    for &op in &args.ops {
        headline.push_str(&headline_for(&args, &service, &channels, &redis, op, &points).await?);
    }
    let _ = writeln!(
        headline,
        "- peak service RSS: {:.1} MiB (target ≤ 64 MiB)",
        service.peak_rss_mib()?
    );

    std::fs::create_dir_all(&args.out)?;
    let chart = args.out.join("sweep.svg");
    report::chart(&points, &args.ops, &chart)?;
    let table = report::sweep_table(&points);
    let report = format!(
        "## Setup\n\n{notes}\n## Headline ({HEADLINE} callers)\n\n{headline}\n## Sweep\n\n{table}\n![throughput and p99 against concurrency](sweep.svg)\n"
    );
    std::fs::write(args.out.join("report.md"), &report)?;
    println!("\n== headline\n{headline}\n== sweep\n{table}");
    println!(
        "written: {} and {}",
        args.out.join("report.md").display(),
        chart.display()
    );
    service.stop();
    Ok(())
}

/// One point: rmw at `c` callers, then the same script direct at `c`
/// connections.
async fn pair(
    args: &Args,
    service: &Service,
    channels: &[tonic::transport::Channel],
    redis: &RedisProcess,
    op: Op,
    c: usize,
) -> anyhow::Result<Point> {
    ops::prepare(channels[0].clone(), &redis.url()).await?;
    let (grpc, cpu_us) = measured(args, service, channels, op, Pace::Closed(c)).await?;
    ops::prepare(channels[0].clone(), &redis.url()).await?;
    let port = redis.port();
    let duration = args.duration;
    let direct =
        tokio::task::spawn_blocking(move || direct::redis_benchmark(port, op, c, 1, duration))
            .await??;
    let point = Point {
        op,
        concurrency: c,
        grpc,
        direct,
        cpu_us,
    };
    println!(
        "  {:<14} c={:<3}  rmw {:>7.0} ops/s  p50 {:>6.2}  p99 {:>6.2}  p999 {:>6.2} ms  | direct {:>7.0} ops/s  ratio {:.2}  server {:>5.1} µs/call, load generator {:>5.1}{}",
        op.name(),
        c,
        point.grpc.rate(),
        point.grpc.ms(0.5),
        point.grpc.ms(0.99),
        point.grpc.ms(0.999),
        point.direct.rate,
        point.ratio(),
        cpu_us,
        point.grpc.client_cpu_us,
        errors(&point.grpc)
    );
    Ok(point)
}

/// A gRPC run and the service's CPU per call over its measured window.
async fn measured(
    args: &Args,
    service: &Service,
    channels: &[tonic::transport::Channel],
    op: Op,
    pace: Pace,
) -> anyhow::Result<(Run, f64)> {
    let pid = service.pid();
    let warmup = args.warmup;
    let cpu_at_start = tokio::spawn(async move {
        tokio::time::sleep(warmup).await;
        (service::cpu(pid), service::cpu(std::process::id()))
    });
    let mut run = load::run(op, channels, pace, args.warmup, args.duration).await;
    let (server_start, client_start) = cpu_at_start.await?;
    let per_call = |cpu: Duration| cpu.as_secs_f64() * 1e6 / run.ops.max(1) as f64;
    let cpu_us = per_call(service::cpu(pid)?.saturating_sub(server_start?));
    run.client_cpu_us = per_call(service::cpu(std::process::id())?.saturating_sub(client_start?));
    Ok((run, cpu_us))
}

/// The headline figures for `op` (BENCHMARKS.md, "Targets"): medians of
/// alternating pairs at 64 callers, direct with `-P 16`, p99 at half the
/// best rate, redis-py.
async fn headline_for(
    args: &Args,
    service: &Service,
    channels: &[tonic::transport::Channel],
    redis: &RedisProcess,
    op: Op,
    points: &[Point],
) -> anyhow::Result<String> {
    let port = redis.port();
    let mut pairs: Vec<Point> = points
        .iter()
        .filter(|p| p.op == op && p.concurrency == HEADLINE)
        .cloned()
        .collect();
    while pairs.len() < args.repeats.max(1) {
        pairs.push(pair(args, service, channels, redis, op, HEADLINE).await?);
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let rmw = median(pairs.iter().map(|p| p.grpc.rate()).collect());
    let direct = median(pairs.iter().map(|p| p.direct.rate).collect());
    let ratio = median(pairs.iter().map(Point::ratio).collect());
    let cpu = median(pairs.iter().map(|p| p.cpu_us).collect());
    let duration = args.duration;
    ops::prepare(channels[0].clone(), &redis.url()).await?;
    let pipelined: Direct = tokio::task::spawn_blocking(move || {
        direct::redis_benchmark(port, op, HEADLINE, 16, duration)
    })
    .await??;

    let best = points
        .iter()
        .filter(|p| p.op == op)
        .map(|p| p.grpc.rate())
        .fold(rmw, f64::max);
    let half = best / 2.0;
    // Tails on a shared 2-core machine vary most: the median of `repeats`
    // fixed-rate runs, by p99.
    let mut paced_runs = Vec::new();
    for _ in 0..args.repeats.max(1) {
        ops::prepare(channels[0].clone(), &redis.url()).await?;
        let (run, _) = measured(args, service, channels, op, Pace::Rate(half, HEADLINE)).await?;
        println!(
            "  {:<14} at {half:.0} ops/s (half of the best {best:.0}): p50 {:.2}  p99 {:.2}  p999 {:.2} ms{}",
            op.name(),
            run.ms(0.5),
            run.ms(0.99),
            run.ms(0.999),
            errors(&run)
        );
        paced_runs.push(run);
    }
    paced_runs.sort_by(|a, b| a.ms(0.99).total_cmp(&b.ms(0.99)));
    let all_p99: Vec<String> = paced_runs
        .iter()
        .map(|r| format!("{:.2}", r.ms(0.99)))
        .collect();
    let paced = paced_runs.swap_remove(paced_runs.len() / 2);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "- {}: rmw {rmw:.0} ops/s, direct EVALSHA {direct:.0} ops/s (`-P 1`) and {:.0} ops/s (`-P 16`): ratio {ratio:.2} (median of {} alternating pairs; target ≥ 0.8); server CPU {cpu:.1} µs per call",
        op.name(),
        pipelined.rate,
        pairs.len()
    );
    let _ = writeln!(
        out,
        "  - at half the best rate ({half:.0} of {best:.0} ops/s, fixed-rate schedule, {HEADLINE} callers): p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms (the run with the median p99 of {}: {} ms; target p99 ≤ 2 ms); {:.0} ops/s achieved{}",
        paced.ms(0.5),
        paced.ms(0.99),
        paced.ms(0.999),
        all_p99.len(),
        all_p99.join(", "),
        paced.rate(),
        errors(&paced)
    );
    if has_redis_py(&args.python) {
        ops::prepare(channels[0].clone(), &redis.url()).await?;
        let python = args.python.clone();
        let py = tokio::task::spawn_blocking(move || -> anyhow::Result<(f64, f64)> {
            Ok((
                direct::redis_py(&python, port, op, PyMode::Thread, duration)?,
                direct::redis_py(&python, port, op, PyMode::Asyncio(HEADLINE), duration)?,
            ))
        })
        .await??;
        let _ = writeln!(
            out,
            "  - redis-py `register_script`, same script: {:.0} ops/s (1 thread), {:.0} ops/s (asyncio, 64 tasks)",
            py.0, py.1
        );
    } else {
        let _ = writeln!(
            out,
            "  - redis-py: skipped ({} cannot import redis)",
            args.python.display()
        );
    }
    Ok(out)
}

fn errors(run: &Run) -> String {
    match &run.first_error {
        None => String::new(),
        Some(first) => format!("  ERRORS {} (first: {first})", run.errors),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn has_redis_py(python: &std::path::Path) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import redis"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The first lines of every report: the machine, Redis, and what rmw ran
/// with (`flags`, as Markdown).
fn setup(flags: &str) -> String {
    format!(
        "- machine: {}\n- redis-server: {}\n- rmw flags: {flags}\n",
        machine(),
        redis_version()
    )
}

/// Cores and CPU model, from /proc/cpuinfo.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cores = info.lines().filter(|l| l.starts_with("processor")).count();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("unknown CPU", |m| m.trim_start_matches([' ', '\t', ':']));
    format!("{cores} cores, {model}")
}

fn redis_version() -> String {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
