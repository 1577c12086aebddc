//! Counter and quota limits the service declares (in the policy file):
//! a declared limit wins over a request's, which may only ask for less.

use super::pattern::Pattern;
use crate::{
    error::Error,
    ops::{Adjust, Consume, GetQuota, types::Units},
};

/// The declared limits, each by name pattern; the first match applies.
#[derive(Debug, Default)]
pub struct Declared {
    /// Counter bounds.
    pub counters: Vec<(Pattern, CounterLimit)>,
    /// Daily quotas.
    pub quotas: Vec<(Pattern, QuotaLimit)>,
}

/// A counter's declared bounds.
#[derive(Clone, Copy, Debug)]
pub struct CounterLimit {
    /// Its lowest value, when declared.
    pub min: Option<i64>,
    /// Its highest value, when declared.
    pub max: Option<i64>,
}

/// A quota's declared day.
#[derive(Clone, Copy, Debug)]
pub struct QuotaLimit {
    /// Units allowed per day.
    pub daily_limit: Units,
    /// The day's offset from UTC, minutes.
    pub utc_offset_minutes: i32,
}

impl Declared {
    fn counter(&self, name: &str) -> Option<CounterLimit> {
        self.counters
            .iter()
            .find(|(p, _)| p.matches(name))
            .map(|&(_, limit)| limit)
    }

    fn quota(&self, name: &str) -> Option<QuotaLimit> {
        self.quotas
            .iter()
            .find(|(p, _)| p.matches(name))
            .map(|&(_, limit)| limit)
    }

    /// Narrows an adjustment's bounds to the declared ones.
    pub fn adjust(&self, op: &mut Adjust) -> Result<(), Error> {
        let Some(limit) = self.counter(op.name.as_str()) else {
            return Ok(());
        };
        if let Some(min) = limit.min {
            op.min = op.min.max(min);
        }
        if let Some(max) = limit.max {
            op.max = op.max.min(max);
        }
        if op.min > op.max {
            return Err(Error::invalid(
                "min",
                format!(
                    "is outside the bounds declared for counter {} ({}..{})",
                    op.name,
                    limit.min.map_or_else(String::new, |m| m.to_string()),
                    limit.max.map_or_else(String::new, |m| m.to_string()),
                ),
            ));
        }
        Ok(())
    }

    /// Applies a declared quota's day and limit to a spend.
    pub fn consume(&self, op: &mut Consume) -> Result<(), Error> {
        self.quota_day(op.name.as_str(), &mut op.daily_limit, op.utc_offset_minutes)
    }

    /// Applies a declared quota's day and limit to a read.
    pub fn get_quota(&self, op: &mut GetQuota) -> Result<(), Error> {
        self.quota_day(op.name.as_str(), &mut op.daily_limit, op.utc_offset_minutes)
    }

    fn quota_day(&self, name: &str, daily_limit: &mut Units, offset: i32) -> Result<(), Error> {
        let Some(limit) = self.quota(name) else {
            return Ok(());
        };
        // Another offset would start another day, with a fresh count:
        // refused, not narrowed.
        if offset != limit.utc_offset_minutes {
            return Err(Error::invalid(
                "utc_offset_minutes",
                format!(
                    "must be {} (declared for quota {name})",
                    limit.utc_offset_minutes
                ),
            ));
        }
        if daily_limit.get() > limit.daily_limit.get() {
            *daily_limit = limit.daily_limit;
        }
        Ok(())
    }
}
