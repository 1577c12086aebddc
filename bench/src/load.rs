//! Load over gRPC: closed loop (N callers back to back) or open loop at a
//! fixed rate.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use hdrhistogram::Histogram;
use tokio::time::{Instant, sleep_until};
use tonic::transport::Channel;

use crate::ops::{Client, Op};

/// What one run measured.
#[derive(Clone, Debug)]
pub struct Run {
    /// Calls completed in the measured window.
    pub ops: u64,
    /// The measured window.
    pub secs: f64,
    /// Latencies in microseconds.
    pub latency: Histogram<u64>,
    /// Calls that failed or had another outcome than expected.
    pub errors: u64,
    /// The first such failure, for the report.
    pub first_error: Option<String>,
    /// The load generator's own CPU per call, µs: on a shared machine it
    /// is CPU the service and Redis did not get.
    pub client_cpu_us: f64,
}

impl Run {
    /// Calls per second.
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }

    /// Latency quantile `q` in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    fn empty(window: Duration) -> Self {
        Run {
            ops: 0,
            secs: window.as_secs_f64(),
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            errors: 0,
            first_error: None,
            client_cpu_us: 0.0,
        }
    }

    fn record(&mut self, took: Duration, result: Result<(), String>) {
        self.ops += 1;
        self.latency
            .saturating_record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        if let Err(error) = result {
            self.errors += 1;
            self.first_error.get_or_insert(error);
        }
    }

    fn merge(&mut self, other: Run) {
        self.ops += other.ops;
        self.errors += other.errors;
        self.latency
            .add(&other.latency)
            .expect("same histogram bounds");
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// How calls are paced.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// `callers` callers, each sending its next call as soon as the last
    /// one answered.
    Closed(usize),
    /// `rate` calls per second on a fixed schedule, taken by `callers`
    /// callers (open loop; see `paced`).
    Rate(f64, usize),
}

/// Drives `op` over `channels` as `pace` says, for `warmup` (not measured)
/// then `duration`, printing progress each second.
pub async fn run(
    op: Op,
    channels: &[Channel],
    pace: Pace,
    warmup: Duration,
    duration: Duration,
) -> Run {
    let start = Instant::now() + Duration::from_millis(10);
    let window = Window {
        measure_from: start + warmup,
        stop_at: start + warmup + duration,
        done: Arc::new(AtomicU64::new(0)),
    };
    let progress = tokio::spawn(progress(
        Arc::clone(&window.done),
        window.measure_from,
        window.stop_at,
    ));
    let (callers, released) = match pace {
        Pace::Closed(callers) => (callers, None),
        Pace::Rate(rate, callers) => (callers, Some(pace_calls(rate, start, window.stop_at))),
    };
    let mut tasks = Vec::with_capacity(callers);
    for i in 0..callers {
        let client = Client::new(op, channels[i % channels.len()].clone());
        let (window, released) = (window.clone(), released.clone());
        tasks.push(tokio::spawn(async move {
            match released {
                None => closed_caller(client, i as u64, callers as u64, window, duration).await,
                Some(released) => {
                    paced_caller(client, i as u64, callers as u64, released, window, duration).await
                }
            }
        }));
    }
    drop(released);
    let mut total = Run::empty(duration);
    for task in tasks {
        total.merge(task.await.expect("caller task"));
    }
    progress.abort();
    total
}

/// The measured window and the count shown as progress.
#[derive(Clone)]
struct Window {
    measure_from: Instant,
    stop_at: Instant,
    done: Arc<AtomicU64>,
}

/// A closed-loop caller: the next call as soon as the last answered.
async fn closed_caller(
    mut client: Client,
    mut n: u64,
    step: u64,
    window: Window,
    duration: Duration,
) -> Run {
    let mut run = Run::empty(duration);
    loop {
        let sent = Instant::now();
        if sent >= window.stop_at {
            return run;
        }
        let result = client.call(n).await;
        n += step;
        if sent >= window.measure_from {
            window.done.fetch_add(1, Ordering::Relaxed);
            run.record(sent.elapsed(), result);
        }
    }
}

/// An open-loop caller: takes the next call due. A call waiting for a free
/// caller waits in the service's name: latency counts from the scheduled
/// time, so falling behind shows (no coordinated omission), and the service
/// never has more calls in flight than there are callers.
async fn paced_caller(
    mut client: Client,
    mut n: u64,
    step: u64,
    released: async_channel::Receiver<Instant>,
    window: Window,
    duration: Duration,
) -> Run {
    let mut run = Run::empty(duration);
    while let Ok(scheduled) = released.recv().await {
        let result = client.call(n).await;
        n += step;
        if scheduled >= window.measure_from {
            window.done.fetch_add(1, Ordering::Relaxed);
            run.record(scheduled.elapsed(), result);
        }
    }
    run
}

/// Releases calls at `rate` per second from `start` to `stop_at`, from a
/// thread of its own: it sleeps with the OS timer (tens of microseconds'
/// grain, where tokio's has a millisecond's and would send calls in
/// bursts), at least 200 µs at a time so that it costs little, and
/// releases whatever fell due.
fn pace_calls(rate: f64, start: Instant, stop_at: Instant) -> async_channel::Receiver<Instant> {
    let (release, released) = async_channel::unbounded::<Instant>();
    let interval = Duration::from_secs_f64(1.0 / rate);
    std::thread::spawn(move || {
        let mut next = start;
        while next < stop_at {
            let now = Instant::now();
            if next > now {
                std::thread::sleep((next - now).max(Duration::from_micros(200)));
            }
            let now = Instant::now();
            while next <= now && next < stop_at {
                if release.send_blocking(next).is_err() {
                    return;
                }
                next += interval;
            }
        }
    });
    released
}

/// Prints the rate so far once a second while a run lasts.
async fn progress(done: Arc<AtomicU64>, from: Instant, until: Instant) {
    let mut tick = from + Duration::from_secs(1);
    while tick <= until {
        sleep_until(tick).await;
        let secs = tick.duration_since(from).as_secs_f64();
        let ops = done.load(Ordering::Relaxed);
        eprint!(
            "\r    {secs:>4.0} s  {:>9.0} ops/s so far ",
            ops as f64 / secs
        );
        tick += Duration::from_secs(1);
    }
    eprint!("\r{:60}\r", "");
}
