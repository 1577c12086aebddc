//! The results: a table on stdout, a Markdown report, an SVG chart.

use std::{fmt::Write as _, path::Path};

use plotters::prelude::*;

use crate::{direct::Direct, load::Run, ops::Op};

/// One point of the sweep.
#[derive(Clone, Debug)]
pub struct Point {
    /// The operation.
    pub op: Op,
    /// Concurrent callers (and redis-benchmark connections).
    pub concurrency: usize,
    /// Through rmw.
    pub grpc: Run,
    /// The same script, direct, unpipelined.
    pub direct: Direct,
    /// Server CPU per call, µs.
    pub cpu_us: f64,
}

impl Point {
    /// rmw's rate over the direct rate.
    pub fn ratio(&self) -> f64 {
        self.grpc.rate() / self.direct.rate
    }
}

/// The Markdown table of the sweep.
pub fn sweep_table(points: &[Point]) -> String {
    let mut out = String::from(
        "| operation | callers | rmw ops/s | p50 ms | p99 ms | p999 ms | direct EVALSHA ops/s (-P 1) | direct p50 / p99 ms | ratio | server CPU µs/call | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for p in points {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} | {:.2} / {:.2} | {:.2} | {:.1} | {} |",
            p.op.name(),
            p.concurrency,
            p.grpc.rate(),
            p.grpc.ms(0.5),
            p.grpc.ms(0.99),
            p.grpc.ms(0.999),
            p.direct.rate,
            p.direct.p50,
            p.direct.p99,
            p.ratio(),
            p.cpu_us,
            p.grpc.errors
        );
    }
    out
}

/// Throughput and p99 against concurrency, one line per operation and
/// path, into an SVG file.
pub fn chart(points: &[Point], ops: &[Op], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(560);
    let x_max = points
        .iter()
        .map(|p| (p.concurrency as f64).log2())
        .fold(1.0_f64, f64::max);
    let log_label = |x: &f64| format!("{}", 2_f64.powf(*x).round());
    let colors = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];

    let rate_max = points
        .iter()
        .map(|p| p.grpc.rate().max(p.direct.rate))
        .fold(1.0_f64, f64::max)
        * 1.1;
    let mut rates = ChartBuilder::on(&left)
        .caption("throughput (ops/s)", ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..rate_max)?;
    rates
        .configure_mesh()
        .max_light_lines(1)
        .x_desc("concurrent callers")
        .x_label_formatter(&log_label)
        .y_label_formatter(&|y| format!("{:.0}k", y / 1000.0))
        .draw()?;
    for (op, color) in ops.iter().zip(colors) {
        let mine: Vec<&Point> = points.iter().filter(|p| p.op == *op).collect();
        let grpc: Vec<(f64, f64)> = mine
            .iter()
            .map(|p| ((p.concurrency as f64).log2(), p.grpc.rate()))
            .collect();
        let direct: Vec<(f64, f64)> = mine
            .iter()
            .map(|p| ((p.concurrency as f64).log2(), p.direct.rate))
            .collect();
        rates
            .draw_series(LineSeries::new(grpc, color.stroke_width(2)))?
            .label(format!("{} via rmw", op.name()))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        rates
            .draw_series(DashedLineSeries::new(direct, 6, 4, color.stroke_width(1)))?
            .label(format!("{} direct EVALSHA", op.name()))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(1))
            });
    }
    rates
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;

    let p99_max = points
        .iter()
        .map(|p| p.grpc.ms(0.99))
        .fold(0.5_f64, f64::max)
        * 1.1;
    let mut p99 = ChartBuilder::on(&right)
        .caption("rmw p99 latency (ms)", ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..x_max, 0.0..p99_max)?;
    p99.configure_mesh()
        .max_light_lines(1)
        .x_desc("concurrent callers")
        .x_label_formatter(&log_label)
        .draw()?;
    for (op, color) in ops.iter().zip(colors) {
        let line: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.op == *op)
            .map(|p| ((p.concurrency as f64).log2(), p.grpc.ms(0.99)))
            .collect();
        p99.draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
            .label(op.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        p99.draw_series(
            line.into_iter()
                .map(|xy| Circle::new(xy, 3, color.filled())),
        )?;
    }
    p99.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

/// One curve of a chart: its label and its points.
pub type Curve = (String, Vec<(f64, f64)>);

/// Draws `curves` on `area`, one colour each, with a legend; `x_log`: the
/// x values are log2 of what the axis shows.
pub fn curves<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    x_desc: &str,
    x_log: bool,
    curves: &[Curve],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let points = curves.iter().flat_map(|(_, points)| points);
    let x_min = points
        .clone()
        .map(|p| p.0)
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let x_max = points.clone().map(|p| p.0).fold(1.0_f64, f64::max) + 0.25;
    let y_max = points.map(|p| p.1).fold(1.0_f64, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(x_min..x_max, 0.0..y_max)?;
    let log_label = |x: &f64| format!("{}", 2_f64.powf(*x).round());
    let plain_label = |x: &f64| format!("{x:.0}");
    let label: &dyn Fn(&f64) -> String = if x_log { &log_label } else { &plain_label };
    chart
        .configure_mesh()
        .max_light_lines(1)
        .x_desc(x_desc)
        .x_label_formatter(label)
        .draw()?;
    for (i, (name, points)) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(points.iter().map(|&xy| Circle::new(xy, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    Ok(())
}

/// Writes `<name>.md` (`setup`, then `body` under `heading`, then the
/// chart `<name>.svg`, already drawn) into `out`, and prints the table.
pub fn write(out: &Path, name: &str, setup: &str, heading: &str, body: &str) -> anyhow::Result<()> {
    let report = format!("## Setup\n\n{setup}\n## {heading}\n\n{body}\n![{heading}]({name}.svg)\n");
    std::fs::write(out.join(format!("{name}.md")), report)?;
    println!("\n== {heading}\n{body}");
    println!(
        "written: {} and {}",
        out.join(format!("{name}.md")).display(),
        out.join(format!("{name}.svg")).display()
    );
    Ok(())
}
