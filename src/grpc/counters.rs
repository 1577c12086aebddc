//! `rmw.v1.CountersService`.

use super::{Fields, Rpc, one, serve, timestamp};
use crate::{
    error::Error,
    ops::{
        Adjust, AdjustOutcome, Bound, Consume, GetCounter, GetQuota, Limits, QuotaOutcome,
        QuotaState, Replied,
        limits::MAX_UTC_OFFSET_MINUTES,
        types::{self, Id, MAX_SAFE_INTEGER, Units},
    },
    proto::v1::{
        self as pb, adjust_counter_response as adjust, consume_quota_response as consume,
        counters_service_server::CountersService,
    },
};

serve! {
  CountersService {
    adjust_counter(AdjustCounterRequest);
    get_counter(GetCounterRequest);
    consume_quota(ConsumeQuotaRequest);
    get_quota(GetQuotaRequest);
  }
}

impl Rpc for pb::AdjustCounterRequest {
    type Op = Adjust;
    type Reply = pb::AdjustCounterResponse;

    fn parse(self, _limits: &Limits) -> Result<Adjust, Error> {
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&self.name));
        let amount = f.take(
            "amount",
            types::signed(self.amount).and_then(|a| {
                if a == 0 {
                    Err("must not be 0".to_owned())
                } else {
                    Ok(a)
                }
            }),
        );
        let min = f.take("min", types::signed(self.min.unwrap_or(0)));
        let max = f.take("max", types::signed(self.max.unwrap_or(MAX_SAFE_INTEGER)));
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            f.violate("max", format!("must not be below min ({min})"));
        }
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        f.finish(|| {
            Some(Adjust {
                name: name?,
                amount: amount?,
                min: min?,
                max: max?,
                request_id: request_id?,
            })
        })
    }

    fn reply(replied: Replied<AdjustOutcome>) -> pb::AdjustCounterResponse {
        let outcome = match replied.outcome {
            AdjustOutcome::Adjusted { previous, value } => {
                adjust::Outcome::Adjusted(adjust::Adjusted { previous, value })
            }
            AdjustOutcome::OutOfBounds {
                current,
                bound,
                which,
            } => adjust::Outcome::OutOfBounds(adjust::OutOfBounds {
                current,
                bound,
                which: match which {
                    Bound::Min => adjust::out_of_bounds::Bound::Min,
                    Bound::Max => adjust::out_of_bounds::Bound::Max,
                }
                .into(),
            }),
        };
        pb::AdjustCounterResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::GetCounterRequest {
    type Op = GetCounter;
    type Reply = pb::GetCounterResponse;

    fn parse(self, _limits: &Limits) -> Result<GetCounter, Error> {
        let name = one("name", Id::parse(&self.name))?;
        Ok(GetCounter { name })
    }

    fn reply(replied: Replied<i64>) -> pb::GetCounterResponse {
        pb::GetCounterResponse {
            value: replied.outcome,
        }
    }
}

impl Rpc for pb::ConsumeQuotaRequest {
    type Op = Consume;
    type Reply = pb::ConsumeQuotaResponse;

    fn parse(self, _limits: &Limits) -> Result<Consume, Error> {
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&self.name));
        let amount = f.take("amount", Units::parse(self.amount, 1));
        let limit = f.take("daily_limit", Units::parse(self.daily_limit, 1));
        let offset = f.take("utc_offset_minutes", utc_offset(self.utc_offset_minutes));
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        f.finish(|| {
            Some(Consume {
                name: name?,
                amount: amount?,
                daily_limit: limit?,
                utc_offset_minutes: offset?,
                request_id: request_id?,
            })
        })
    }

    fn reply(replied: Replied<QuotaOutcome>) -> pb::ConsumeQuotaResponse {
        let outcome = match replied.outcome {
            QuotaOutcome::Consumed(state) => consume::Outcome::Consumed(consume::Consumed {
                count: state.count,
                remaining: state.remaining,
                resets_at: Some(timestamp(state.resets_at)),
            }),
            QuotaOutcome::LimitExceeded { state, limit } => {
                consume::Outcome::LimitExceeded(consume::LimitExceeded {
                    count: state.count,
                    limit,
                    remaining: state.remaining,
                    resets_at: Some(timestamp(state.resets_at)),
                })
            }
        };
        pb::ConsumeQuotaResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::GetQuotaRequest {
    type Op = GetQuota;
    type Reply = pb::GetQuotaResponse;

    fn parse(self, _limits: &Limits) -> Result<GetQuota, Error> {
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&self.name));
        let limit = f.take("daily_limit", Units::parse(self.daily_limit, 1));
        let offset = f.take("utc_offset_minutes", utc_offset(self.utc_offset_minutes));
        f.finish(|| {
            Some(GetQuota {
                name: name?,
                daily_limit: limit?,
                utc_offset_minutes: offset?,
            })
        })
    }

    fn reply(replied: Replied<QuotaState>) -> pb::GetQuotaResponse {
        let state = replied.outcome;
        pb::GetQuotaResponse {
            count: state.count,
            remaining: state.remaining,
            resets_at: Some(timestamp(state.resets_at)),
        }
    }
}

fn utc_offset(minutes: i32) -> Result<i32, String> {
    // `unsigned_abs`: `abs` of i32::MIN overflows (a panic in a debug
    // build, i32::MIN itself in a release one).
    if minutes.unsigned_abs() > MAX_UTC_OFFSET_MINUTES.unsigned_abs() {
        return Err(format!(
            "must be from -{MAX_UTC_OFFSET_MINUTES} to {MAX_UTC_OFFSET_MINUTES} minutes"
        ));
    }
    Ok(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every i32 is either inside ±840 minutes or refused, the edges
    /// included (hardening #6: i32::MIN overflowed `abs`).
    #[test]
    fn utc_offsets_at_the_edges() {
        for ok in [-840, -1, 0, 1, 840] {
            assert_eq!(utc_offset(ok), Ok(ok));
        }
        for bad in [i32::MIN, i32::MIN + 1, -841, 841, i32::MAX] {
            assert!(utc_offset(bad).is_err(), "{bad}");
        }
    }
}
