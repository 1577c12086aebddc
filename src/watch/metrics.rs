//! What the watches count, for `/metrics`.

use prometheus_client::{
    metrics::{
        counter::Counter,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// The watches' gauges, counters and lag.
#[derive(Debug)]
pub struct WatchMetrics {
    /// Watches open.
    pub(super) active: Gauge,
    /// Shared readers (each with its doorbell connection).
    pub(super) readers: Gauge,
    /// Events handed to callers' streams.
    pub(super) sent: Counter,
    /// Watches ended because their caller read too slowly.
    pub(super) behind: Counter,
    /// From an entry's addition (Redis's clock) to its hand-over to a
    /// following watch.
    pub(super) lag: Histogram,
}

impl Default for WatchMetrics {
    fn default() -> Self {
        Self {
            active: Gauge::default(),
            readers: Gauge::default(),
            sent: Counter::default(),
            behind: Counter::default(),
            // 100 µs to ~ 6.5 s.
            lag: Histogram::new(exponential_buckets(0.000_1, 2.0, 17)),
        }
    }
}

impl WatchMetrics {
    /// Registers every metric, `rmw_watch_…`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("watch_active", "Watches open", self.active.clone());
        registry.register(
            "watch_readers",
            "Streams being read for watches, each on a connection of its own",
            self.readers.clone(),
        );
        registry.register(
            "watch_events_sent",
            "Events handed to watches' streams",
            self.sent.clone(),
        );
        registry.register(
            "watch_behind",
            "Watches ended because their caller read too slowly",
            self.behind.clone(),
        );
        registry.register(
            "watch_lag_seconds",
            "From an entry's addition (Redis's clock) to its hand-over to a watch",
            self.lag.clone(),
        );
    }
}
