//! `rmw.v1.CountersService`.

use tonic::{Request, Response, Status};

use super::{deadline_of, reply, timestamp};
use crate::{
    error::Fields,
    ops::{
        Adjust, AdjustOutcome, Bound, Consume, Context, QuotaOutcome,
        types::{self, Id, MAX_SAFE_INTEGER},
    },
    proto::v1::{
        self as pb, adjust_counter_response as adjust, consume_quota_response as consume,
        counters_service_server::CountersService,
    },
};

/// The widest UTC offset, in minutes (UTC+14:00).
pub const MAX_UTC_OFFSET_MINUTES: i32 = 14 * 60;

/// The CountersService handlers.
pub struct Counters {
    cx: Context,
}

impl Counters {
    /// Handlers over `cx`.
    #[must_use]
    pub fn new(cx: Context) -> Self {
        Self { cx }
    }
}

#[tonic::async_trait]
impl CountersService for Counters {
    async fn adjust_counter(
        &self,
        request: Request<pb::AdjustCounterRequest>,
    ) -> Result<Response<pb::AdjustCounterResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&request.name));
        let amount = f.take(
            "amount",
            types::signed(request.amount).and_then(|a| {
                if a == 0 {
                    Err("must not be 0".to_owned())
                } else {
                    Ok(a)
                }
            }),
        );
        let min = f.take("min", types::signed(request.min.unwrap_or(0)));
        let max = f.take(
            "max",
            types::signed(request.max.unwrap_or(MAX_SAFE_INTEGER)),
        );
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                f.violate("max", format!("must not be below min ({min})"));
            }
        }
        let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
        let request = f.finish(|| {
            Some(Adjust {
                name: name?,
                amount: amount?,
                min: min?,
                max: max?,
                request_id: request_id?,
            })
        })?;
        let replied = self.cx.adjust_counter(&request, deadline).await?;
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
        Ok(reply(pb::AdjustCounterResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }

    async fn get_counter(
        &self,
        request: Request<pb::GetCounterRequest>,
    ) -> Result<Response<pb::GetCounterResponse>, Status> {
        let deadline = deadline_of(&request);
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&request.get_ref().name));
        let name = f.finish(|| name)?;
        let value = self.cx.get_counter(&name, deadline).await?;
        Ok(reply(pb::GetCounterResponse { value }))
    }

    async fn consume_quota(
        &self,
        request: Request<pb::ConsumeQuotaRequest>,
    ) -> Result<Response<pb::ConsumeQuotaResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&request.name));
        let amount = f.take("amount", types::quantity(request.amount, 1));
        let limit = f.take("daily_limit", types::quantity(request.daily_limit, 1));
        let offset = f.take("utc_offset_minutes", utc_offset(request.utc_offset_minutes));
        let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
        let request = f.finish(|| {
            Some(Consume {
                name: name?,
                amount: amount?,
                daily_limit: limit?,
                utc_offset_minutes: offset?,
                request_id: request_id?,
            })
        })?;
        let replied = self.cx.consume_quota(&request, deadline).await?;
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
        Ok(reply(pb::ConsumeQuotaResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }

    async fn get_quota(
        &self,
        request: Request<pb::GetQuotaRequest>,
    ) -> Result<Response<pb::GetQuotaResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&request.name));
        let limit = f.take("daily_limit", types::quantity(request.daily_limit, 1));
        let offset = f.take("utc_offset_minutes", utc_offset(request.utc_offset_minutes));
        let (name, limit, offset) = f.finish(|| Some((name?, limit?, offset?)))?;
        let state = self.cx.get_quota(&name, limit, offset, deadline).await?;
        Ok(reply(pb::GetQuotaResponse {
            count: state.count,
            remaining: state.remaining,
            resets_at: Some(timestamp(state.resets_at)),
        }))
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
