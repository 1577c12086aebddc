//! The scale-out curve: the same operations through rmw against local
//! Redis Clusters of more and more primaries, keys, stores and books
//! spread over their slots.

use std::{fmt::Write as _, path::Path};

use plotters::prelude::*;
use rmw_testkit::cluster::Cluster;

use crate::{Args, load::Pace, machine, measured, ops, ops::Op, redis_version, service::Service};

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
    let mut notes = String::new();
    let _ = writeln!(notes, "- machine: {}", machine());
    let _ = writeln!(notes, "- redis-server: {}", redis_version());
    let _ = writeln!(notes, "- rmw flags: `{}`", args.rmw_flags.join(" "));
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
    let table = table(&rows);
    std::fs::create_dir_all(&args.out)?;
    let chart = args.out.join("cluster.svg");
    draw(&rows, &chart)?;
    let report = format!(
        "## Setup\n\n{notes}\n## Scale-out\n\n{table}\n![throughput against primaries](cluster.svg)\n"
    );
    std::fs::write(args.out.join("cluster.md"), &report)?;
    println!("\n== scale-out\n{table}");
    println!(
        "written: {} and {}",
        args.out.join("cluster.md").display(),
        chart.display()
    );
    Ok(())
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
    let x_max = rows.iter().map(|r| r.primaries as f64).fold(1.0, f64::max) + 0.5;
    let y_max = rows.iter().map(|r| r.rate).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "throughput against Redis Cluster primaries",
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5..x_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .max_light_lines(1)
        .x_desc("primaries")
        .y_label_formatter(&|y| format!("{:.0}k", y / 1000.0))
        .draw()?;
    let mut lines: Vec<(Op, usize)> = rows.iter().map(|r| (r.op, r.concurrency)).collect();
    lines.dedup();
    lines.sort_by_key(|(op, c)| (op.name(), *c));
    lines.dedup();
    for (i, (op, concurrency)) in lines.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.op == op && r.concurrency == concurrency)
            .map(|r| (r.primaries as f64, r.rate))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(format!("{} c={concurrency}", op.name()))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|xy| Circle::new(xy, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    root.present()?;
    Ok(())
}
