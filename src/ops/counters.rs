//! Bounded counters and daily quotas.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Context, Replied, types::Id};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Reply, Script},
};

/// A signed amount added to a counter within bounds.
#[derive(Clone, Debug)]
pub struct Adjust {
    /// The counter.
    pub name: Id,
    /// The amount, nonzero.
    pub amount: i64,
    /// The lowest value allowed.
    pub min: i64,
    /// The highest value allowed.
    pub max: i64,
    /// The idempotency key.
    pub request_id: Option<Id>,
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
    pub name: Id,
    /// Units to spend.
    pub amount: i64,
    /// Units allowed per day.
    pub daily_limit: i64,
    /// The day's offset from UTC, in minutes.
    pub utc_offset_minutes: i32,
    /// The idempotency key.
    pub request_id: Option<Id>,
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

impl Context {
    /// Adds a signed amount to a counter within bounds.
    pub async fn adjust_counter(
        &self,
        request: &Adjust,
        deadline: Deadline,
    ) -> Result<Replied<AdjustOutcome>, Error> {
        let record =
            self.keys
                .tagged_idempotency("ctr", &request.name, request.request_id.as_ref());
        let call = Call::write(
            Script::CountersAdjust,
            record,
            request.request_id.is_some(),
            self.idempotency_ttl,
        )
        .key(self.keys.counter(&request.name))
        .arg(request.amount)
        .arg(request.min)
        .arg(request.max);
        let reply = self.redis.eval(&call, deadline).await?;
        let outcome = match reply.tag()? {
            "adjusted" => AdjustOutcome::Adjusted {
                previous: reply.int(1)?,
                value: reply.int(2)?,
            },
            "out_of_bounds" => AdjustOutcome::OutOfBounds {
                current: reply.int(1)?,
                bound: reply.int(2)?,
                which: match reply.text(3)?.as_str() {
                    "min" => Bound::Min,
                    "max" => Bound::Max,
                    _ => return Err(reply.unexpected()),
                },
            },
            _ => return Err(reply.unexpected()),
        };
        Ok(Replied {
            outcome,
            replayed: reply.replayed,
        })
    }

    /// Reads a counter.
    pub async fn get_counter(&self, name: &Id, deadline: Deadline) -> Result<i64, Error> {
        let call = Call::read(Script::CountersGet).key(self.keys.counter(name));
        let reply = self.redis.eval(&call, deadline).await?;
        if reply.tag()? != "value" {
            return Err(reply.unexpected());
        }
        reply.int(1)
    }

    /// Spends from a daily quota.
    pub async fn consume_quota(
        &self,
        request: &Consume,
        deadline: Deadline,
    ) -> Result<Replied<QuotaOutcome>, Error> {
        let record =
            self.keys
                .tagged_idempotency("ctr", &request.name, request.request_id.as_ref());
        let call = Call::write(
            Script::CountersConsumeQuota,
            record,
            request.request_id.is_some(),
            self.idempotency_ttl,
        )
        .key(self.keys.quota(&request.name, request.utc_offset_minutes))
        .setting(self.clock_skew_secs)
        .arg(request.amount)
        .arg(request.daily_limit)
        .arg(request.utc_offset_minutes);
        let reply = self.redis.eval(&call, deadline).await?;
        let outcome = match reply.tag()? {
            "consumed" => QuotaOutcome::Consumed(QuotaState {
                count: reply.int(1)?,
                remaining: reply.int(2)?,
                resets_at: unix_time(&reply, 3)?,
            }),
            "limit_exceeded" => QuotaOutcome::LimitExceeded {
                state: QuotaState {
                    count: reply.int(1)?,
                    remaining: reply.int(3)?,
                    resets_at: unix_time(&reply, 4)?,
                },
                limit: reply.int(2)?,
            },
            _ => return Err(reply.unexpected()),
        };
        Ok(Replied {
            outcome,
            replayed: reply.replayed,
        })
    }

    /// Reads a daily quota without spending.
    pub async fn get_quota(
        &self,
        name: &Id,
        daily_limit: i64,
        utc_offset_minutes: i32,
        deadline: Deadline,
    ) -> Result<QuotaState, Error> {
        let call = Call::read(Script::CountersGetQuota)
            .key(self.keys.quota(name, utc_offset_minutes))
            .setting(self.clock_skew_secs)
            .arg(daily_limit)
            .arg(utc_offset_minutes);
        let reply = self.redis.eval(&call, deadline).await?;
        if reply.tag()? != "quota" {
            return Err(reply.unexpected());
        }
        Ok(QuotaState {
            count: reply.int(1)?,
            remaining: reply.int(2)?,
            resets_at: unix_time(&reply, 3)?,
        })
    }
}

/// Item `i`, Unix seconds, as a time.
fn unix_time(reply: &Reply, i: usize) -> Result<SystemTime, Error> {
    let secs = u64::try_from(reply.int(i)?).map_err(|_| reply.unexpected())?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}
