//! What the HTTP paths cost a call: CompareAndSwap at the headline
//! concurrency over gRPC, over Connect JSON on HTTP/2 (h2c, as many
//! connections as gRPC's channels) and on HTTP/1.1 (a connection per
//! caller, as HTTP/1.1 has one call in flight per connection), in
//! alternating runs, with the service's CPU per call. Written to http.md.

use std::{fmt::Write as _, net::SocketAddr};

use anyhow::Context as _;
use rmw::dev_redis::RedisProcess;
use rmw_testkit::http::Http;

use crate::{Args, HEADLINE, load::Pace, measured, ops, ops::Op, service::Service, setup};

/// The protocols compared.
#[derive(Clone, Copy)]
enum Protocol {
    Grpc,
    JsonH2,
    JsonH1,
}

const VARIANTS: [(&str, Protocol); 3] = [
    ("gRPC (protobuf, HTTP/2)", Protocol::Grpc),
    ("Connect JSON, HTTP/2", Protocol::JsonH2),
    ("Connect JSON, HTTP/1.1", Protocol::JsonH1),
];

/// Alternating runs of each protocol; the medians.
pub async fn bench(args: &Args) -> anyhow::Result<()> {
    let mut notes = setup(&format!("`{}`", args.rmw_flags.join(" ")));
    let _ = writeln!(
        notes,
        "- load: CompareAndSwap `v1` → `v1` on 1,000 keys, closed loop, {HEADLINE} callers, {} s per run after {} s warm-up; {} alternating runs each; gRPC and HTTP/2 over {} connections, HTTP/1.1 over up to {HEADLINE}",
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64(),
        args.repeats.max(1),
        args.channels,
    );
    print!("{notes}");
    let mut results = vec![Vec::new(); VARIANTS.len()];
    for round in 0..args.repeats.max(1) {
        for (variant, &(label, protocol)) in VARIANTS.iter().enumerate() {
            let redis = RedisProcess::start(&[])
                .await
                .context("start redis-server")?;
            let service = Service::start(&redis.url(), &args.rmw_flags).await?;
            let channels = service.channels(args.channels).await?;
            ops::prepare(channels[0].clone(), &redis.url()).await?;
            let addr: SocketAddr = service.addr.parse()?;
            ops::set_http(match protocol {
                Protocol::Grpc => Vec::new(),
                Protocol::JsonH2 => (0..args.channels).map(|_| Http::h2(addr)).collect(),
                // One pooled client: it opens a connection per call in
                // flight, keeps them alive, and reuses them.
                Protocol::JsonH1 => vec![Http::h1(addr)],
            });
            let measured =
                measured(args, &service, &channels, Op::Cas, Pace::Closed(HEADLINE)).await;
            ops::set_http(Vec::new());
            let (run, cpu_us) = measured?;
            anyhow::ensure!(
                run.errors == 0,
                "{label}: {} calls failed: {:?}",
                run.errors,
                run.first_error
            );
            println!(
                "  round {round}: {label:<26} {:>7.0} ops/s  p50 {:>5.2} ms  p99 {:>5.2} ms  server {cpu_us:>5.1} µs/call",
                run.rate(),
                run.ms(0.5),
                run.ms(0.99)
            );
            results[variant].push((run.rate(), run.ms(0.99), cpu_us));
            service.stop();
        }
    }
    let table = table(&results);
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("http.md"),
        format!("## Setup\n\n{notes}\n## CompareAndSwap by protocol\n\n{table}"),
    )?;
    println!("\n{table}");
    Ok(())
}

/// The medians of each protocol's runs: ops/s, p99, server µs per call.
fn table(results: &[Vec<(f64, f64, f64)>]) -> String {
    let median = |runs: &[(f64, f64, f64)], pick: fn(&(f64, f64, f64)) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let mut table = String::from(
        "| protocol | ops/s (median) | p99 (median) | server CPU per call (median) |\n|---|---:|---:|---:|\n",
    );
    for (&(label, _), runs) in VARIANTS.iter().zip(results) {
        let _ = writeln!(
            table,
            "| {label} | {:.0} | {:.2} ms | {:.1} µs |",
            median(runs, |r| r.0),
            median(runs, |r| r.1),
            median(runs, |r| r.2)
        );
    }
    table
}
