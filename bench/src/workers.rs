//! The multi-core sweep: one standalone Redis, rmw started again for each
//! worker count, the same loads closed loop, and the same script direct
//! with `redis-benchmark` once per load for the ratio.

use std::{fmt::Write as _, path::Path};

use plotters::prelude::{IntoDrawingArea, SVGBackend, WHITE};
use rmw::dev_redis::RedisProcess;

use crate::{
    Args, direct,
    load::Pace,
    measured, ops,
    ops::Op,
    report::{self, Curve},
    service::Service,
    setup,
};

/// One point: an operation at a concurrency with `workers` threads.
struct Row {
    workers: usize,
    op: Op,
    concurrency: usize,
    rate: f64,
    direct: f64,
    p99_ms: f64,
    cpu_us: f64,
    /// Cores the load generator kept busy, out of its threads.
    generator_cores: f64,
    errors: String,
}

/// Runs every operation at every concurrency with each worker count in
/// `counts`, and writes `workers.md` and `workers.svg`.
pub async fn sweep(args: &Args, counts: &[usize]) -> anyhow::Result<()> {
    let redis = RedisProcess::start(&[]).await?;
    let mut notes = setup(&format!(
        "`{}` plus `--worker-threads N` (1: tokio's current-thread runtime; N > 1: the work-stealing one)",
        args.rmw_flags.join(" ")
    ));
    let _ = writeln!(
        notes,
        "- load: closed loop, {} gRPC connections, a load generator of {} thread(s), {} s per point after {} s warm-up; direct: `redis-benchmark -P 1`, once per load",
        args.channels,
        args.client_threads,
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64()
    );
    print!("{notes}");
    let mut rows = Vec::new();
    let mut direct_rates = Vec::new();
    for &workers in counts {
        let mut flags = args.rmw_flags.clone();
        flags.push(format!("--worker-threads={workers}"));
        let service = Service::start(&redis.url(), &flags).await?;
        let channels = service.channels(args.channels).await?;
        for &op in &args.ops {
            for &concurrency in &args.concurrency {
                ops::prepare(channels[0].clone(), &redis.url()).await?;
                let (run, cpu_us) =
                    measured(args, &service, &channels, op, Pace::Closed(concurrency)).await?;
                let known = direct_rates
                    .iter()
                    .find(|(o, c, _)| *o == op && *c == concurrency)
                    .map(|(_, _, rate)| *rate);
                let direct = if let Some(rate) = known {
                    rate
                } else {
                    ops::prepare(channels[0].clone(), &redis.url()).await?;
                    let (port, duration) = (redis.port(), args.duration);
                    let rate = tokio::task::spawn_blocking(move || {
                        direct::redis_benchmark(port, op, concurrency, 1, duration)
                    })
                    .await??
                    .rate;
                    direct_rates.push((op, concurrency, rate));
                    rate
                };
                let row = Row {
                    workers,
                    op,
                    concurrency,
                    rate: run.rate(),
                    direct,
                    p99_ms: run.ms(0.99),
                    cpu_us,
                    generator_cores: run.client_cpu_us * run.rate() / 1e6,
                    errors: crate::errors(&run),
                };
                println!(
                    "  {workers:>2} workers  {:<14} c={concurrency:<4} {:>8.0} ops/s  ratio {:.2}  p99 {:>6.2} ms  server {:>5.1} µs/call  generator {:.2} of {} cores{}",
                    op.name(),
                    row.rate,
                    row.rate / row.direct,
                    row.p99_ms,
                    row.cpu_us,
                    row.generator_cores,
                    args.client_threads,
                    row.errors
                );
                rows.push(row);
            }
        }
        service.stop();
    }
    std::fs::create_dir_all(&args.out)?;
    draw(&rows, &args.out.join("workers.svg"))?;
    let table = table(&rows, args.client_threads);
    report::write(&args.out, "workers", &notes, "Worker threads", &table)
}

/// The Markdown table; CPU per call also as a multiple of the one-worker
/// figure, and the generator marked where it, not rmw, was the limit.
fn table(rows: &[Row], client_threads: usize) -> String {
    let mut out = String::from(
        "| workers | operation | callers | rmw ops/s | direct ops/s (-P 1) | ratio | p99 ms | server CPU µs/call | × 1 worker | generator cores | errors |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for row in rows {
        let base = rows
            .iter()
            .find(|r| r.workers == 1 && r.op == row.op && r.concurrency == row.concurrency)
            .map_or(String::from("–"), |one| {
                format!("{:.2}", row.cpu_us / one.cpu_us)
            });
        // A generator busy on 90 % of its threads limits the rate itself.
        #[allow(clippy::cast_precision_loss)]
        let bound = if row.generator_cores >= 0.9 * client_threads as f64 {
            " (the limit)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.1} | {base} | {:.2} of {client_threads}{bound} | {} |",
            row.workers,
            row.op.name(),
            row.concurrency,
            row.rate,
            row.direct,
            row.rate / row.direct,
            row.p99_ms,
            row.cpu_us,
            row.generator_cores,
            row.errors.trim()
        );
    }
    out
}

/// Throughput and CPU per call against worker threads, a line per
/// operation and concurrency.
#[allow(clippy::cast_precision_loss)]
fn draw(rows: &[Row], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(560);
    let mut lines: Vec<(Op, usize)> = rows.iter().map(|r| (r.op, r.concurrency)).collect();
    lines.sort_by_key(|(op, c)| (op.name(), *c));
    lines.dedup();
    let curves = |value: fn(&Row) -> f64| -> Vec<Curve> {
        lines
            .iter()
            .map(|&(op, concurrency)| {
                let points = rows
                    .iter()
                    .filter(|r| r.op == op && r.concurrency == concurrency)
                    .map(|r| ((r.workers as f64).log2(), value(r)))
                    .collect();
                (format!("{} c={concurrency}", op.name()), points)
            })
            .collect()
    };
    report::curves(
        &left,
        "throughput (ops/s)",
        "worker threads",
        true,
        &curves(|r| r.rate),
    )?;
    report::curves(
        &right,
        "server CPU per call (µs)",
        "worker threads",
        true,
        &curves(|r| r.cpu_us),
    )?;
    root.present()?;
    Ok(())
}
