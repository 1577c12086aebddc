//! Watches' figures: delivery latency from a writer's reply to a
//! watcher's receipt with 1, 100 and 1,000 watchers of one store; the
//! service's memory with 1,000 idle watches (of one store, and of 1,000
//! stores); and what the record change journal costs PutRecord, on and
//! off. Written to watch.md.

use std::{fmt::Write as _, sync::Arc, time::Duration};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use rmw::{
    dev_redis::RedisProcess,
    proto::v1::{
        EnableJournalRequest, PutRecordRequest, RestockRequest, WatchMovementsRequest, WatchStart,
        inventory_service_client::InventoryServiceClient, put_record_response as put,
        records_service_client::RecordsServiceClient, watch_movements_response as watched,
    },
};
use tokio::time::Instant;
use tonic::{Streaming, transport::Channel};

use crate::{Args, HEADLINE, service::Service, setup};

/// Movements per latency point, and the writer's pace.
const EVENTS: usize = 400;
const PACE: Duration = Duration::from_millis(5);

async fn watch(
    channel: &Channel,
    store: &str,
) -> anyhow::Result<Streaming<rmw::proto::v1::WatchMovementsResponse>> {
    Ok(InventoryServiceClient::new(channel.clone())
        .watch_movements(WatchMovementsRequest {
            store: store.into(),
            product: String::new(),
            from_id: String::new(),
            start: WatchStart::Now.into(),
        })
        .await?
        .into_inner())
}

/// `watchers` watch one store while one writer restocks it `EVENTS` times,
/// one unit every `PACE`; each movement's latency is from the writer's
/// reply to each watcher's receipt (0 when a watcher had it first).
async fn latency(
    channels: &[Channel],
    watchers: usize,
    store: &str,
) -> anyhow::Result<Histogram<u64>> {
    let mut streams = Vec::with_capacity(watchers);
    for w in 0..watchers {
        streams.push(watch(&channels[w % channels.len()], store).await?);
    }
    let receivers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                // Receipt time by the level after (1..=EVENTS).
                let mut got = vec![None; EVENTS + 1];
                let mut n = 0;
                while n < EVENTS {
                    let message = stream.message().await?.context("the watch ended")?;
                    if let Some(watched::Event::Movement(m)) = message.event {
                        got[usize::try_from(m.after)?] = Some(Instant::now());
                        n += 1;
                    }
                }
                anyhow::Ok(got)
            })
        })
        .collect();
    let mut writer = InventoryServiceClient::new(channels[0].clone());
    let mut replied = vec![None; EVENTS + 1];
    let mut tick = tokio::time::interval(PACE);
    for slot in replied.iter_mut().skip(1) {
        tick.tick().await;
        writer
            .restock(RestockRequest {
                store: store.into(),
                product: "p".into(),
                quantity: 1,
                request_id: String::new(),
            })
            .await?;
        *slot = Some(Instant::now());
    }
    let mut all = Histogram::<u64>::new(3)?;
    for receiver in receivers {
        let got = receiver.await??;
        for (received, replied) in got.iter().zip(&replied).skip(1) {
            let (Some(received), Some(replied)) = (received, replied) else {
                anyhow::bail!("a movement not seen");
            };
            let us = received.saturating_duration_since(*replied).as_micros();
            all.record(u64::try_from(us)?)?;
        }
    }
    Ok(all)
}

/// Resident memory now, from /proc/<pid>/status (VmRSS), MiB.
fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("VmRSS")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib / 1024.0)
}

/// Redis's own time per `EVALSHA` since its stats were reset, µs: what a
/// script costs Redis, apart from the 2-core machine's noise.
async fn evalsha_usec(redis_url: &str, reset: bool) -> anyhow::Result<f64> {
    let mut conn = redis::Client::open(redis_url)?
        .get_multiplexed_async_connection()
        .await?;
    if reset {
        let () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut conn)
            .await?;
        return Ok(0.0);
    }
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await?;
    let line = info
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:"))
        .context("no EVALSHA in INFO commandstats")?;
    let usec = line
        .split(',')
        .find_map(|f| f.strip_prefix("usec_per_call="))
        .context("usec_per_call")?;
    Ok(usec.parse()?)
}

/// PutRecord by `callers` callers, each on its own key of `tag`, for
/// `duration`: writes/s, and Redis's µs per call.
async fn puts(
    channels: &[Channel],
    redis_url: &str,
    callers: usize,
    tag: &str,
    duration: Duration,
) -> anyhow::Result<(f64, f64)> {
    evalsha_usec(redis_url, true).await?;
    let until = Instant::now() + duration;
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tasks: Vec<_> = (0..callers)
        .map(|w| {
            let mut client = RecordsServiceClient::new(channels[w % channels.len()].clone());
            let (key, done) = (format!("k{w}{{{tag}}}"), Arc::clone(&done));
            tokio::spawn(async move {
                let mut version = 0;
                while Instant::now() < until {
                    let reply = client
                        .put_record(PutRecordRequest {
                            key: key.clone(),
                            value: b"{\"replicas\":3}".to_vec(),
                            expected_version: version,
                            request_id: String::new(),
                            fence: None,
                        })
                        .await?
                        .into_inner();
                    let Some(put::Outcome::Written(written)) = reply.outcome else {
                        anyhow::bail!("not written: {reply:?}");
                    };
                    version = written.version;
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let rate = done.load(std::sync::atomic::Ordering::Relaxed) as f64 / duration.as_secs_f64();
    Ok((rate, evalsha_usec(redis_url, false).await?))
}

/// The watch report: prints it and writes `watch.md`.
pub async fn bench(args: &Args) -> anyhow::Result<()> {
    let redis = RedisProcess::start(&[])
        .await
        .context("start redis-server")?;
    // A binary from before watches (a before/after check) answers
    // EnableJournal UNIMPLEMENTED and refuses --max-watches: PutRecord
    // alone, on the flags it knows.
    let service = Service::start(&redis.url(), &args.rmw_flags).await?;
    let channels = service.channels(args.channels.max(4)).await?;
    let mut records = RecordsServiceClient::new(channels[0].clone());
    let journals = records
        .enable_journal(EnableJournalRequest { tag: "on".into() })
        .await;
    if matches!(&journals, Err(status) if status.code() == tonic::Code::Unimplemented) {
        let mut report = setup(&format!("`{}`", args.rmw_flags.join(" ")));
        let (off, usec) = puts(&channels, &redis.url(), HEADLINE, "off", args.duration).await?;
        let _ = writeln!(
            report,
            "- PutRecord, {HEADLINE} callers, closed loop, {:.0} s: **{off:.0} writes/s**, Redis {usec:.2} µs per call (a binary without record journals)",
            args.duration.as_secs_f64(),
        );
        print!("{report}");
        service.stop();
        return Ok(());
    }
    journals?;
    // First, on a fresh service and Redis as a binary without journals
    // measures it: the watches below leave streams and state behind.
    let (off, off_usec) = puts(&channels, &redis.url(), HEADLINE, "off", args.duration).await?;
    let (on, on_usec) = puts(&channels, &redis.url(), HEADLINE, "on", args.duration).await?;
    let puts_line = format!(
        "- PutRecord, {HEADLINE} callers, closed loop, {:.0} s each: **{off:.0} writes/s with the tag's journal off, {on:.0} with it on** ({:+.1} %); Redis {off_usec:.2} and {on_usec:.2} µs per call",
        args.duration.as_secs_f64(),
        (on / off - 1.0) * 100.0,
    );
    service.stop();
    let mut flags = args.rmw_flags.clone();
    flags.extend(["--max-watches".to_owned(), "4096".to_owned()]);
    let service = Service::start(&redis.url(), &flags).await?;
    // A connection takes at most --max-concurrent-streams (1,024) streams.
    let channels = service.channels(args.channels.max(4)).await?;
    let mut report = setup(&format!("`{}`", flags.join(" ")));
    let _ = writeln!(report, "{puts_line}");
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;

    for watchers in [1, 100, 1000] {
        let store = format!("lat-{watchers}");
        let h = latency(&channels, watchers, &store).await?;
        let _ = writeln!(
            report,
            "- delivery, {watchers} watcher(s) of one store, a restock every {} ms ({EVENTS}): writer's reply → watcher's receipt **p50 {:.2} ms, p99 {:.2} ms**, max {:.2} ms ({} receipts)",
            PACE.as_millis(),
            ms(&h, 0.5),
            ms(&h, 0.99),
            h.max() as f64 / 1000.0,
            h.len(),
        );
    }

    // Let the latency points' watches end and their readers retire.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = service.pid();
    let before = rss_mib(pid)?;
    let mut idle = Vec::new();
    for w in 0..1000 {
        idle.push(watch(&channels[w % channels.len()], "idle").await?);
    }
    let one_store = rss_mib(pid)?;
    drop(idle);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut idle = Vec::new();
    for w in 0..1000 {
        idle.push(watch(&channels[w % channels.len()], &format!("idle-{w}")).await?);
    }
    let many_stores = rss_mib(pid)?;
    drop(idle);
    let _ = writeln!(
        report,
        "- memory (RSS): {before:.1} MiB with no watch; **{one_store:.1} MiB with 1,000 idle watches of one store** (one reader); {many_stores:.1} MiB with 1,000 idle watches of 1,000 stores (1,000 readers, each with its Redis connection)",
    );

    print!("{report}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("watch.md"), format!("## Watches\n\n{report}"))?;
    println!("written: {}", args.out.join("watch.md").display());
    service.stop();
    Ok(())
}
