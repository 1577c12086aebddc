//! Acquire, and waiting for a place without polling Redis per caller.
//!
//! The callers of this instance waiting on one lease queue for it, first
//! come first served (a fair mutex per lease). Only the head of the queue
//! talks to Redis: it tries, and when every place is taken it waits for
//! whichever comes first: a release (its doorbell, an `XREAD BLOCK` on the
//! lease's releases stream, which every instance's Release appends to),
//! the soonest grant's expiry (by Redis's clock, as the script answered),
//! or its own deadline. Once granted (or out of time) it leaves the queue,
//! and the next caller is the head. So a free place goes to the longest
//! waiter of this instance; callers of other instances, or callers that do
//! not wait, may take it first (docs/LEASES.md).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use prometheus_client::{metrics::gauge::Gauge, registry::Registry};
use tokio::sync::{Mutex as FairMutex, Semaphore};

use super::{AcquireOutcome, Holders, TryAcquire};
use crate::{
    deadline::Deadline,
    error::Error,
    ops::{Context, Execute, Replied},
    redis::doorbell::Doorbell,
};

/// How long before its deadline a waiter stops waiting, to answer `held`
/// in time rather than DEADLINE_EXCEEDED: a tenth of the time it may
/// wait, within these bounds.
const MARGIN: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(1));

/// The longest a waiter blocks on its doorbell before it tries again (a
/// doorbell that missed a ring costs at most this).
const LONGEST_BLOCK: Duration = Duration::from_secs(1);

/// A lease's queue: its fair mutex guards the doorbell only the head uses.
type Queue = Arc<FairMutex<Doorbell>>;

/// The queues of waiting callers, by lease key; at most `--max-lease-
/// waiters` callers wait at once (each queue holds a Redis connection
/// while its head waits).
pub struct Waiters {
    queues: Mutex<HashMap<String, Queue>>,
    permits: Semaphore,
    max: usize,
    /// Callers waiting now (`rmw_lease_waiters`).
    waiting: Gauge,
}

impl Waiters {
    /// Room for `max` waiting callers.
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            queues: Mutex::default(),
            permits: Semaphore::new(max),
            max,
            waiting: Gauge::default(),
        }
    }

    /// Registers `rmw_lease_waiters`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "lease_waiters",
            "Callers waiting for a lease (Acquire with wait)",
            self.waiting.clone(),
        );
    }

    fn queue(&self, cx: &Context, lease: &str) -> Queue {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(queues.entry(lease.to_owned()).or_insert_with(|| {
            let releases = cx.keys.lease_releases(lease);
            Arc::new(FairMutex::new(cx.redis.doorbell(releases)))
        }))
    }

    /// Drops `lease`'s queue if `queue` was its last user.
    fn leave(&self, lease: &str, queue: &Queue) {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        // The map's, this caller's and its guard's: no one else waits.
        if Arc::strong_count(queue) <= 3 {
            queues.remove(lease);
        }
    }
}

/// Acquire: one try, or with `wait`, tries until granted or the deadline.
#[derive(Clone, Debug)]
pub struct Acquire {
    /// The try.
    pub attempt: TryAcquire,
    /// Whether to wait for a place.
    pub wait: bool,
}

impl Execute for Acquire {
    type Outcome = AcquireOutcome;

    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<AcquireOutcome>, Error> {
        let first = cx.run(&self.attempt, deadline).await?;
        if !self.wait || !matches!(first.outcome, AcquireOutcome::Held(_)) {
            return Ok(first);
        }
        let waiters = &cx.lease_waiters;
        let Ok(_permit) = waiters.permits.try_acquire() else {
            return Err(Error::TooManyWaiters(waiters.max));
        };
        let lease = cx.keys.lease(&self.attempt.name);
        let queue = waiters.queue(cx, &lease);
        // Counted, and its queue left, however the wait ends: a caller
        // that goes away drops this future mid-wait.
        let _waiting = Waiting::new(waiters, lease, Arc::clone(&queue));
        self.wait_in(cx, &queue, first, deadline).await
    }
}

/// A caller in a lease's queue, from its first wait to its answer.
struct Waiting<'a> {
    waiters: &'a Waiters,
    lease: String,
    queue: Queue,
}

impl<'a> Waiting<'a> {
    fn new(waiters: &'a Waiters, lease: String, queue: Queue) -> Self {
        waiters.waiting.inc();
        Self {
            waiters,
            lease,
            queue,
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.waiters.waiting.dec();
        self.waiters.leave(&self.lease, &self.queue);
    }
}

impl Acquire {
    /// Queues behind this instance's earlier waiters, then tries whenever
    /// a place may have come free, until granted or out of time.
    async fn wait_in(
        &self,
        cx: &Context,
        queue: &Queue,
        mut last: Replied<AcquireOutcome>,
        deadline: Deadline,
    ) -> Result<Replied<AcquireOutcome>, Error> {
        let left = deadline.remaining().unwrap_or_default();
        let margin = (left / 10).clamp(MARGIN.0, MARGIN.1);
        let until = deadline
            .instant()
            .checked_sub(margin)
            .unwrap_or(deadline.instant());
        let Ok(mut doorbell) = tokio::time::timeout_at(until, queue.lock()).await else {
            return Ok(last);
        };
        loop {
            // The head: a place may have come free while it queued.
            last = cx.run(&self.attempt, deadline).await?;
            let AcquireOutcome::Held(Holders {
                wait, last_release, ..
            }) = &last.outcome
            else {
                return Ok(last);
            };
            let now = tokio::time::Instant::now();
            if now >= until {
                return Ok(last);
            }
            // Past the soonest expiry by a millisecond: the script counts a
            // grant whose expiry equals its clock as expired.
            let block = (*wait + Duration::from_millis(1))
                .min(until - now)
                .min(LONGEST_BLOCK);
            if doorbell.wait(&cx.redis, last_release, block).await.is_err() {
                // The doorbell's connection failed: the next try (through
                // the pool) says whether Redis is there; not too soon.
                tokio::time::sleep(block.min(Duration::from_millis(50))).await;
            }
        }
    }
}
