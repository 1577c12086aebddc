//! Holds' figures: HoldStock + CommitHold pairs at 64 callers, and what
//! expiry on touch costs the first PlaceOrder of a store with 1,000 due
//! holds (it ends 32 of them and reads the other 968), next to a
//! PlaceOrder with none due. Written to holds.md.

use std::{fmt::Write as _, time::Duration};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use rmw::{
    dev_redis::RedisProcess,
    proto::v1::{
        CommitHoldRequest, HoldStockRequest, OrderItem, PlaceOrderRequest, SetStockRequest,
        StockLevel, commit_hold_response as commit, hold_stock_response as hold,
        inventory_service_client::InventoryServiceClient, place_order_response as place,
    },
};
use tokio::time::Instant;
use tonic::transport::Channel;

use crate::{Args, HEADLINE, service::Service, setup};

type Client = InventoryServiceClient<Channel>;

/// Due holds in the expiry-on-touch figure.
const DUE: usize = 1000;
/// Stores measured for it (one first PlaceOrder each).
const TRIALS: usize = 7;

fn item(quantity: i64) -> Vec<OrderItem> {
    vec![OrderItem {
        product: "p".into(),
        quantity,
    }]
}

async fn stock(client: &mut Client, store: &str, units: i64) -> anyhow::Result<()> {
    client
        .set_stock(SetStockRequest {
            store: store.into(),
            levels: vec![StockLevel {
                product: "p".into(),
                quantity: units,
                ..Default::default()
            }],
            request_id: String::new(),
        })
        .await?;
    Ok(())
}

async fn hold(client: &mut Client, store: &str, id: &str, ttl_ms: i32) -> anyhow::Result<()> {
    let reply = client
        .hold_stock(HoldStockRequest {
            store: store.into(),
            hold_id: id.into(),
            items: item(1),
            ttl: Some(prost_types::Duration {
                seconds: i64::from(ttl_ms / 1000),
                nanos: (ttl_ms % 1000) * 1_000_000,
            }),
            fence: None,
        })
        .await?
        .into_inner();
    anyhow::ensure!(
        matches!(reply.outcome, Some(hold::Outcome::Held(_))),
        "not held: {reply:?}"
    );
    Ok(())
}

/// One PlaceOrder of one unit, timed.
async fn order(client: &mut Client, store: &str, id: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let reply = client
        .place_order(PlaceOrderRequest {
            store: store.into(),
            order_id: id.into(),
            items: item(1),
        })
        .await?
        .into_inner();
    let took = started.elapsed();
    anyhow::ensure!(
        matches!(reply.outcome, Some(place::Outcome::Placed(_))),
        "not placed: {reply:?}"
    );
    Ok(took)
}

/// HoldStock then CommitHold of the same hold, by `callers` callers, for
/// `duration`; returns pairs/s and the pair latency.
async fn pairs(
    channels: &[Channel],
    callers: usize,
    duration: Duration,
) -> anyhow::Result<(f64, Histogram<u64>)> {
    let mut client = Client::new(channels[0].clone());
    stock(&mut client, "pairs", 1 << 40).await?;
    let until = Instant::now() + duration;
    let tasks: Vec<_> = (0..callers)
        .map(|w| {
            let mut client = Client::new(channels[w % channels.len()].clone());
            tokio::spawn(async move {
                let mut latency = Histogram::<u64>::new(3)?;
                let mut n = 0u64;
                while Instant::now() < until {
                    let id = format!("h-{w}-{n}");
                    let started = Instant::now();
                    hold(&mut client, "pairs", &id, 600_000).await?;
                    let reply = client
                        .commit_hold(CommitHoldRequest {
                            store: "pairs".into(),
                            hold_id: id,
                            items: vec![],
                            request_id: String::new(),
                            fence: None,
                        })
                        .await?
                        .into_inner();
                    anyhow::ensure!(
                        matches!(reply.outcome, Some(commit::Outcome::Committed(_))),
                        "not committed: {reply:?}"
                    );
                    latency.record(u64::try_from(started.elapsed().as_micros())?)?;
                    n += 1;
                }
                anyhow::Ok(latency)
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new(3)?;
    for task in tasks {
        all.add(task.await??)?;
    }
    Ok((all.len() as f64 / duration.as_secs_f64(), all))
}

/// The holds report: prints it and writes `holds.md`.
pub async fn bench(args: &Args) -> anyhow::Result<()> {
    let redis = RedisProcess::start(&[])
        .await
        .context("start redis-server")?;
    let service = Service::start(&redis.url(), &args.rmw_flags).await?;
    let channels = service.channels(args.channels).await?;
    let mut report = setup(&format!("`{}`", args.rmw_flags.join(" ")));

    let (rate, latency) = pairs(&channels, HEADLINE, args.duration).await?;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let _ = writeln!(
        report,
        "- HoldStock + CommitHold pairs, {HEADLINE} callers, closed loop, {:.0} s: **{rate:.0} pairs/s** ({:.0} calls/s); pair p50 {:.2} ms, p99 {:.2} ms",
        args.duration.as_secs_f64(),
        rate * 2.0,
        ms(&latency, 0.5),
        ms(&latency, 0.99),
    );

    // One caller, so that each figure is one call's own latency.
    let mut client = Client::new(channels[0].clone());
    let (mut quiet, mut due) = (Histogram::<u64>::new(3)?, Histogram::<u64>::new(3)?);
    for trial in 0..TRIALS {
        let store = format!("due-{trial}");
        stock(&mut client, &store, 10_000).await?;
        for i in 0..20 {
            let took = order(&mut client, &store, &format!("warm-{i}")).await?;
            quiet.record(u64::try_from(took.as_micros())?)?;
        }
        // 1 ms holds: all due by the time the last is made.
        for i in 0..DUE {
            hold(&mut client, &store, &format!("h{i}"), 1).await?;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        let took = order(&mut client, &store, "first").await?;
        due.record(u64::try_from(took.as_micros())?)?;
    }
    let _ = writeln!(
        report,
        "- PlaceOrder of one unit, one caller: p50 {:.2} ms with no hold due ({} calls); **p50 {:.2} ms, max {:.2} ms** as the first call after {DUE} holds came due ({TRIALS} stores: it ends 32 and leaves the other {} out of the sum)",
        ms(&quiet, 0.5),
        quiet.len(),
        ms(&due, 0.5),
        due.max() as f64 / 1000.0,
        DUE - 32,
    );
    print!("{report}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("holds.md"), format!("## Holds\n\n{report}"))?;
    println!("written: {}", args.out.join("holds.md").display());
    service.stop();
    Ok(())
}
