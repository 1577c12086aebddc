//! `rmw.v1.SequencesService`.

use super::{Fields, Rpc, serve};
use crate::{
    error::Error,
    ops::{
        GetSequence, Limits, NextIds, Rejection, Replied, ReturnIds, Returned, SequenceState,
        limits::MAX_IDS,
        types::{Id, MAX_SAFE_INTEGER},
    },
    proto::v1::{
        self as pb, next_ids_response as next, rejected_id::Reason, return_ids_response as ret,
        sequences_service_server::SequencesService,
    },
};

serve! {
  SequencesService {
    next_ids(NextIdsRequest);
    return_ids(ReturnIdsRequest);
    get_sequence(GetSequenceRequest);
  }
}

impl Rpc for pb::NextIdsRequest {
    type Op = NextIds;
    type Reply = pb::NextIdsResponse;

    fn parse(self, _limits: &Limits) -> Result<NextIds, Error> {
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&self.name));
        let count = usize::try_from(self.count).unwrap_or(usize::MAX);
        if !(1..=MAX_IDS).contains(&count) {
            f.violate("count", format!("must be from 1 to {MAX_IDS}"));
        }
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        f.finish(|| {
            Some(NextIds {
                name: name?,
                count,
                request_id: request_id?,
            })
        })
    }

    fn reply(replied: Replied<Vec<i64>>) -> pb::NextIdsResponse {
        pb::NextIdsResponse {
            replayed: replied.replayed,
            outcome: Some(next::Outcome::Issued(next::Issued {
                ids: replied.outcome,
            })),
        }
    }
}

impl Rpc for pb::ReturnIdsRequest {
    type Op = ReturnIds;
    type Reply = pb::ReturnIdsResponse;

    fn parse(self, _limits: &Limits) -> Result<ReturnIds, Error> {
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&self.name));
        if self.ids.is_empty() || self.ids.len() > MAX_IDS {
            f.violate("ids", format!("must hold 1 to {MAX_IDS} ids"));
        }
        // No sequence issues an id above 2^53-1 (the most a script holds
        // exactly), so one cannot be a returned id: refused, not rounded.
        // Ids that are not positive, never issued or free already are
        // answers, not errors: each comes back with its reason.
        for (i, &id) in self.ids.iter().enumerate() {
            if id > MAX_SAFE_INTEGER {
                f.violate(
                    format_args!("ids[{i}]"),
                    "must be at most 2^53-1 (9007199254740991)",
                );
            }
        }
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        f.finish(|| {
            Some(ReturnIds {
                name: name?,
                ids: self.ids,
                request_id: request_id?,
            })
        })
    }

    fn reply(replied: Replied<Returned>) -> pb::ReturnIdsResponse {
        let returned = replied.outcome;
        pb::ReturnIdsResponse {
            replayed: replied.replayed,
            outcome: Some(ret::Outcome::Returned(ret::Returned {
                accepted: returned.accepted,
                rejected: returned
                    .rejected
                    .into_iter()
                    .map(|(id, rejection)| pb::RejectedId {
                        id,
                        reason: match rejection {
                            Rejection::NeverIssued => Reason::NeverIssued,
                            Rejection::NotPositive => Reason::NotPositive,
                            Rejection::AlreadyFree => Reason::AlreadyFree,
                        }
                        .into(),
                    })
                    .collect(),
            })),
        }
    }
}

impl Rpc for pb::GetSequenceRequest {
    type Op = GetSequence;
    type Reply = pb::GetSequenceResponse;

    fn parse(self, _limits: &Limits) -> Result<GetSequence, Error> {
        let name = super::one("name", Id::parse(&self.name))?;
        Ok(GetSequence { name })
    }

    fn reply(replied: Replied<SequenceState>) -> pb::GetSequenceResponse {
        let SequenceState {
            highest_issued,
            free_count,
        } = replied.outcome;
        pb::GetSequenceResponse {
            highest_issued,
            free_count,
        }
    }
}
