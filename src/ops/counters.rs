//! Bounded counters and daily quotas.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    Context,
    binding::{Layout, Operation, Record},
    types::{Id, RequestId, Units, kind::Counter},
};
use crate::{
    error::Error,
    redis::{Call, Reply, Script},
};

/// A signed amount added to a counter within bounds.
#[derive(Clone, Debug)]
pub struct Adjust {
    /// The counter.
    pub name: Id<Counter>,
    /// The amount, nonzero.
    pub amount: i64,
    /// The lowest value allowed.
    pub min: i64,
    /// The highest value allowed.
    pub max: i64,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// Which bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The lowest value allowed.
    Min,
    /// The highest value allowed.
    Max,
}

/// What an adjustment did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdjustOutcome {
    /// Added.
    Adjusted {
        /// The value before.
        previous: i64,
        /// The value after.
        value: i64,
    },
    /// The result would cross a bound; nothing changed.
    OutOfBounds {
        /// The value now.
        current: i64,
        /// The bound's value.
        bound: i64,
        /// Which bound.
        which: Bound,
    },
}

/// Units spent from a daily quota.
#[derive(Clone, Debug)]
pub struct Consume {
    /// The quota.
    pub name: Id<Counter>,
    /// Units to spend.
    pub amount: Units,
    /// Units allowed per day.
    pub daily_limit: Units,
    /// The day's offset from UTC, in minutes.
    pub utc_offset_minutes: i32,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// A quota's state today.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaState {
    /// Units spent today.
    pub count: i64,
    /// Units left today.
    pub remaining: i64,
    /// When today ends.
    pub resets_at: SystemTime,
}

/// What spending did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuotaOutcome {
    /// Spent.
    Consumed(QuotaState),
    /// Spending would pass the limit; nothing was spent.
    LimitExceeded {
        /// The quota today.
        state: QuotaState,
        /// The daily limit.
        limit: i64,
    },
}

/// Reads a counter.
#[derive(Clone, Debug)]
pub struct GetCounter {
    /// The counter.
    pub name: Id<Counter>,
}

/// Reads a daily quota.
#[derive(Clone, Debug)]
pub struct GetQuota {
    /// The counter.
    pub name: Id<Counter>,
    /// Units allowed per day.
    pub daily_limit: Units,
    /// The day's offset from UTC, minutes.
    pub utc_offset_minutes: i32,
}

impl Operation for Adjust {
    const SCRIPT: Script = Script::CountersAdjust;
    const LAYOUT: Layout = Layout::write(
        &["the counter"],
        &["the amount", "the lowest value", "the highest value"],
    );
    type Outcome = AdjustOutcome;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(
            &cx.keys,
            &self.name,
            self.request_id.as_ref(),
        ))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.counter(&self.name))
            .arg(self.amount)
            .arg(self.min)
            .arg(self.max)
    }

    fn decode(&self, reply: &Reply) -> Result<AdjustOutcome, Error> {
        match reply.tag()? {
            "adjusted" => Ok(AdjustOutcome::Adjusted {
                previous: reply.int(1)?,
                value: reply.int(2)?,
            }),
            "out_of_bounds" => Ok(AdjustOutcome::OutOfBounds {
                current: reply.int(1)?,
                bound: reply.int(2)?,
                which: match reply.text(3)?.as_str() {
                    "min" => Bound::Min,
                    "max" => Bound::Max,
                    _ => return Err(reply.unexpected()),
                },
            }),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for GetCounter {
    const SCRIPT: Script = Script::CountersGet;
    const LAYOUT: Layout = Layout::read(&["the counter"], &[]);
    /// The value.
    type Outcome = i64;

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.counter(&self.name))
    }

    fn decode(&self, reply: &Reply) -> Result<i64, Error> {
        if reply.tag()? != "value" {
            return Err(reply.unexpected());
        }
        reply.int(1)
    }
}

impl Operation for Consume {
    const SCRIPT: Script = Script::CountersConsumeQuota;
    const LAYOUT: Layout = Layout::write(
        &["the quota"],
        &[
            "seconds added",
            "units to spend",
            "units allowed",
            "offset from UTC",
        ],
    );
    type Outcome = QuotaOutcome;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(
            &cx.keys,
            &self.name,
            self.request_id.as_ref(),
        ))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.quota(&self.name, self.utc_offset_minutes))
            .setting(cx.clock_skew_secs)
            .arg(self.amount.get())
            .arg(self.daily_limit.get())
            .arg(self.utc_offset_minutes)
    }

    fn decode(&self, reply: &Reply) -> Result<QuotaOutcome, Error> {
        match reply.tag()? {
            "consumed" => Ok(QuotaOutcome::Consumed(QuotaState {
                count: reply.int(1)?,
                remaining: reply.int(2)?,
                resets_at: unix_time(reply, 3)?,
            })),
            "limit_exceeded" => Ok(QuotaOutcome::LimitExceeded {
                state: QuotaState {
                    count: reply.int(1)?,
                    remaining: reply.int(3)?,
                    resets_at: unix_time(reply, 4)?,
                },
                limit: reply.int(2)?,
            }),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for GetQuota {
    const SCRIPT: Script = Script::CountersGetQuota;
    const LAYOUT: Layout = Layout::read(
        &["the quota"],
        &["seconds added", "units allowed", "offset from UTC"],
    );
    type Outcome = QuotaState;

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.quota(&self.name, self.utc_offset_minutes))
            .setting(cx.clock_skew_secs)
            .arg(self.daily_limit.get())
            .arg(self.utc_offset_minutes)
    }

    fn decode(&self, reply: &Reply) -> Result<QuotaState, Error> {
        if reply.tag()? != "quota" {
            return Err(reply.unexpected());
        }
        Ok(QuotaState {
            count: reply.int(1)?,
            remaining: reply.int(2)?,
            resets_at: unix_time(reply, 3)?,
        })
    }
}

fn unix_time(reply: &Reply, i: usize) -> Result<SystemTime, Error> {
    let secs = u64::try_from(reply.int(i)?).map_err(|_| reply.unexpected())?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}
