//! A cap on the Redis client's own log messages.
//!
//! redis-rs logs every failed connect and slot-map refresh. Four primary
//! failovers made about 8,800 WARN lines that no caller ever saw (their
//! calls were resent and answered): a log that loud hides what matters. So
//! the first few messages of each window pass, the rest are counted, and
//! [`Throttle::summarise`] reports the count once a window.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tracing::{Event, Level, Metadata, subscriber::Interest};
use tracing_subscriber::{
    filter::LevelFilter,
    layer::{Context, Filter},
};

/// How often the allowance starts again, and a summary is written.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Messages of the Redis client that pass in one window.
pub const BURST: u32 = 5;

/// Lets [`BURST`] messages of the `redis` crates pass per [`WINDOW`];
/// everything else passes untouched. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Throttle(Arc<State>);

#[derive(Debug)]
struct State {
    window: Mutex<(Instant, u32)>,
    suppressed: AtomicU64,
}

/// Whether `target` is the Redis client's (the `redis` crate's modules).
fn is_redis_client(target: &str) -> bool {
    target == "redis" || target.starts_with("redis::")
}

impl Default for Throttle {
    fn default() -> Self {
        Self(Arc::new(State {
            window: Mutex::new((Instant::now(), 0)),
            suppressed: AtomicU64::new(0),
        }))
    }
}

impl Throttle {
    /// Whether a message from `target` at `level` may be written now.
    /// Debug and trace messages are left to the log filter: by default it
    /// drops them before they are written, and whoever turns them on for
    /// the Redis client asked for all of them.
    fn admit(&self, target: &str, level: Level) -> bool {
        if level > Level::INFO || !is_redis_client(target) {
            return true;
        }
        let mut window = self.0.window.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if now.duration_since(window.0) >= WINDOW {
            *window = (now, 0);
        }
        if window.1 < BURST {
            window.1 += 1;
            return true;
        }
        drop(window);
        self.0.suppressed.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Messages held back since the last call.
    #[must_use]
    pub fn take_suppressed(&self) -> u64 {
        self.0.suppressed.swap(0, Ordering::Relaxed)
    }

    /// Writes, once a window, how many messages were held back; runs until
    /// dropped.
    pub async fn summarise(self) {
        let mut ticks = tokio::time::interval(WINDOW);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let suppressed = self.take_suppressed();
            if suppressed > 0 {
                tracing::warn!(
                    suppressed,
                    "the Redis client logged {suppressed} more messages in the last {}s; \
                     held back after the first {BURST}",
                    WINDOW.as_secs()
                );
            }
        }
    }
}

// Only the Redis client's callsites are looked at event by event; every
// other callsite is left to the log filter once and for all, and the level
// hint is no limit of its own. Without these two, every callsite of every
// crate would be asked about on every call (rmw's per-RPC spans included):
// that more than doubled the service's CPU per call in `make bench`.
impl<S> Filter<S> for Throttle {
    fn enabled(&self, _: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        true
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_redis_client(metadata.target()) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }

    fn event_enabled(&self, event: &Event<'_>, _: &Context<'_, S>) -> bool {
        let metadata = event.metadata();
        self.admit(metadata.target(), *metadata.level())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first BURST messages of the Redis client pass, the rest are
    /// counted; other crates' messages always pass.
    #[test]
    fn holds_back_the_redis_client_beyond_its_burst() {
        let throttle = Throttle::default();
        let passed = (0..100)
            .filter(|_| throttle.admit("redis::cluster_async", Level::WARN))
            .count();
        assert_eq!(passed, BURST as usize);
        assert_eq!(throttle.take_suppressed(), 100 - u64::from(BURST));
        assert_eq!(throttle.take_suppressed(), 0);
        assert!((0..100).all(|_| throttle.admit("rmw::redis", Level::WARN)));
        assert!(throttle.admit("redis_like", Level::WARN));
        assert!(throttle.admit("redis", Level::DEBUG));
        assert!(!throttle.admit("redis", Level::ERROR));
    }
}
