//! The scale-out curve: the same operations through rmw against local
//! Redis Clusters of more and more primaries, keys, stores and books
//! spread over their slots.

use std::{fmt::Write as _, path::Path};

use plotters::prelude::{IntoDrawingArea, SVGBackend, WHITE};
use rmw_testkit::cluster::Cluster;

use crate::{
    Args,
    load::Pace,
    measured, ops,
    ops::Op,
    report::{self, Curve},
    service::Service,
    setup,
};

/// Books the transfer load spreads over in a cluster: enough that every
/// primary of the largest cluster serves several.
const BOOKS: u64 = 64;

/// One point: an operation at a concurrency against `primaries`.
struct Row {
    primaries: usize,
    op: Op,
    concurrency: usize,
    rate: f64,
    p99_ms: f64,
    cpu_us: f64,
    errors: String,
}

/// Runs every operation at every concurrency against a cluster of each
/// size in `sizes`, and writes `cluster.md` and `cluster.svg`.
pub async fn sweep(args: &Args, sizes: &[usize]) -> anyhow::Result<()> {
    ops::spread_books(BOOKS);
    let mut notes = setup(&format!("`{}`", args.rmw_flags.join(" ")));
    let _ = writeln!(
        notes,
        "- clusters of {sizes:?} primaries, no replicas, all on this machine; CAS over {} keys, transfers over {BOOKS} books; closed loop, {} gRPC connections, {} s per point after {} s warm-up",
        ops::KEYS,
        args.channels,
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64()
    );
    print!("{notes}");
    let mut rows = Vec::new();
    for &primaries in sizes {
        let cluster = Cluster::start_primaries(primaries).await;
        // One primary is still a cluster (MOVED, slots), which one URL
        // alone would not tell rmw.
        let mut flags = args.rmw_flags.clone();
        flags.push("--redis-cluster".into());
        let service = Service::start(&cluster.urls(), &flags).await?;
        let channels = service.channels(args.channels).await?;
        for &op in &args.ops {
            for &concurrency in &args.concurrency {
                flush(&cluster).await?;
                ops::prepare_through(channels[0].clone()).await?;
                let (run, cpu_us) =
                    measured(args, &service, &channels, op, Pace::Closed(concurrency)).await?;
                let row = Row {
                    primaries,
                    op,
                    concurrency,
                    rate: run.rate(),
                    p99_ms: run.ms(0.99),
                    cpu_us,
                    errors: crate::errors(&run),
                };
                println!(
                    "  {primaries} primaries  {:<14} c={concurrency:<4} {:>8.0} ops/s  p99 {:>6.2} ms  server {:>5.1} µs/call{}",
                    op.name(),
                    row.rate,
                    row.p99_ms,
                    row.cpu_us,
                    row.errors
                );
                rows.push(row);
            }
        }
        service.stop();
    }
    std::fs::create_dir_all(&args.out)?;
    draw(&rows, &args.out.join("cluster.svg"))?;
    report::write(&args.out, "cluster", &notes, "Scale-out", &table(&rows))
}

/// Empties every node, so that each point starts from the same state.
async fn flush(cluster: &Cluster) -> anyhow::Result<()> {
    for node in &cluster.nodes {
        let mut conn = cluster.conn(node.port()).await;
        let () = redis::cmd("FLUSHALL").query_async(&mut conn).await?;
    }
    Ok(())
}

/// The Markdown table, each rate also as a multiple of the one-primary
/// rate of the same operation and concurrency.
fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| primaries | operation | callers | rmw ops/s | × 1 primary | p99 ms | server CPU µs/call | errors |\n|---:|---|---:|---:|---:|---:|---:|---|\n",
    );
    for row in rows {
        let base = rows
            .iter()
            .find(|r| r.primaries == 1 && r.op == row.op && r.concurrency == row.concurrency)
            .map_or(String::from("–"), |one| {
                format!("{:.2}", row.rate / one.rate)
            });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {base} | {:.2} | {:.1} | {} |",
            row.primaries,
            row.op.name(),
            row.concurrency,
            row.rate,
            row.p99_ms,
            row.cpu_us,
            row.errors.trim()
        );
    }
    out
}

/// Throughput against primaries, a line per operation and concurrency.
#[allow(clippy::cast_precision_loss)]
fn draw(rows: &[Row], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (640, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut lines: Vec<(Op, usize)> = rows.iter().map(|r| (r.op, r.concurrency)).collect();
    lines.sort_by_key(|(op, c)| (op.name(), *c));
    lines.dedup();
    let curves: Vec<Curve> = lines
        .into_iter()
        .map(|(op, concurrency)| {
            let points = rows
                .iter()
                .filter(|r| r.op == op && r.concurrency == concurrency)
                .map(|r| (r.primaries as f64, r.rate))
                .collect();
            (format!("{} c={concurrency}", op.name()), points)
        })
        .collect();
    report::curves(
        &root,
        "throughput (ops/s) against Redis Cluster primaries",
        "primaries",
        false,
        &curves,
    )?;
    root.present()?;
    Ok(())
}
