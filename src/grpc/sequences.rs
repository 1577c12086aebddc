//! `rmw.v1.SequencesService`.

use tonic::{Request, Response, Status};

use super::{deadline_of, reply};
use crate::{
    error::Fields,
    ops::{
        Context, Rejection,
        types::{Id, MAX_SAFE_INTEGER},
    },
    proto::v1::{
        self as pb, next_ids_response as next, rejected_id::Reason, return_ids_response as ret,
        sequences_service_server::SequencesService,
    },
};

/// Most ids taken or given back in one request.
pub const MAX_IDS: usize = 1000;

/// The SequencesService handlers.
pub struct Sequences {
    cx: Context,
}

impl Sequences {
    /// Handlers over `cx`.
    #[must_use]
    pub fn new(cx: Context) -> Self {
        Self { cx }
    }
}

#[tonic::async_trait]
impl SequencesService for Sequences {
    async fn next_ids(
        &self,
        request: Request<pb::NextIdsRequest>,
    ) -> Result<Response<pb::NextIdsResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&request.name));
        let count = usize::try_from(request.count).unwrap_or(usize::MAX);
        if !(1..=MAX_IDS).contains(&count) {
            f.violate("count", format!("must be from 1 to {MAX_IDS}"));
        }
        let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
        let (name, request_id) = f.finish(|| Some((name?, request_id?)))?;
        let replied = self
            .cx
            .next_ids(&name, count, request_id.as_ref(), deadline)
            .await?;
        Ok(reply(pb::NextIdsResponse {
            replayed: replied.replayed,
            outcome: Some(next::Outcome::Issued(next::Issued {
                ids: replied.outcome,
            })),
        }))
    }

    async fn return_ids(
        &self,
        request: Request<pb::ReturnIdsRequest>,
    ) -> Result<Response<pb::ReturnIdsResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&request.name));
        if request.ids.is_empty() || request.ids.len() > MAX_IDS {
            f.violate("ids", format!("must hold 1 to {MAX_IDS} ids"));
        }
        // No sequence issues an id above 2^53-1 (the most a script holds
        // exactly), so one cannot be a returned id: refused, not rounded.
        for (i, &id) in request.ids.iter().enumerate() {
            if id > MAX_SAFE_INTEGER {
                f.violate(
                    format_args!("ids[{i}]"),
                    "must be at most 2^53-1 (9007199254740991)",
                );
            }
        }
        let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
        let (name, request_id) = f.finish(|| Some((name?, request_id?)))?;
        // Ids that are not positive, never issued or free already are
        // answers, not errors: each comes back with its reason.
        let replied = self
            .cx
            .return_ids(&name, &request.ids, request_id.as_ref(), deadline)
            .await?;
        let returned = replied.outcome;
        Ok(reply(pb::ReturnIdsResponse {
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
        }))
    }

    async fn get_sequence(
        &self,
        request: Request<pb::GetSequenceRequest>,
    ) -> Result<Response<pb::GetSequenceResponse>, Status> {
        let deadline = deadline_of(&request);
        let mut f = Fields::new();
        let name = f.take("name", Id::parse(&request.get_ref().name));
        let name = f.finish(|| name)?;
        let (highest_issued, free_count) = self.cx.sequence(&name, deadline).await?;
        Ok(reply(pb::GetSequenceResponse {
            highest_issued,
            free_count,
        }))
    }
}
