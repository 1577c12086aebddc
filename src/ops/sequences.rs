//! Id sequences that reuse returned ids first.

use super::{Context, Replied, types::Id};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Script},
};

/// Why a returned id was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Above the highest id issued.
    NeverIssued,
    /// Zero or negative.
    NotPositive,
    /// Free already.
    AlreadyFree,
}

/// What giving ids back did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Returned {
    /// Ids now free, in request order.
    pub accepted: Vec<i64>,
    /// Ids refused, in request order.
    pub rejected: Vec<(i64, Rejection)>,
}

impl Context {
    /// Takes `count` ids: returned ones first, lowest first, then new ones.
    pub async fn next_ids(
        &self,
        name: &Id,
        count: usize,
        request_id: Option<&Id>,
        deadline: Deadline,
    ) -> Result<Replied<Vec<i64>>, Error> {
        let record = self.keys.tagged_idempotency("seq", name, request_id);
        let call = Call::write(
            Script::SequencesNext,
            record,
            request_id.is_some(),
            self.idempotency_ttl,
        )
        .key(self.keys.sequence_high(name))
        .key(self.keys.sequence_free(name))
        .arg(count);
        let reply = self.redis.eval(&call, deadline).await?;
        match reply.tag()? {
            "issued" => Ok(Replied {
                outcome: (1..reply.len())
                    .map(|i| reply.int(i))
                    .collect::<Result<_, _>>()?,
                replayed: reply.replayed,
            }),
            "exhausted" => Err(Error::invalid(
                "count",
                format!(
                    "new ids would pass 2^53-1 (the highest issued is {})",
                    reply.int(1)?
                ),
            )),
            _ => Err(reply.unexpected()),
        }
    }

    /// Gives ids back for reuse.
    pub async fn return_ids(
        &self,
        name: &Id,
        ids: &[i64],
        request_id: Option<&Id>,
        deadline: Deadline,
    ) -> Result<Replied<Returned>, Error> {
        let record = self.keys.tagged_idempotency("seq", name, request_id);
        let mut call = Call::write(
            Script::SequencesReturn,
            record,
            request_id.is_some(),
            self.idempotency_ttl,
        )
        .key(self.keys.sequence_high(name))
        .key(self.keys.sequence_free(name));
        for id in ids {
            call = call.arg(*id);
        }
        let reply = self.redis.eval(&call, deadline).await?;
        if reply.tag()? != "returned" || reply.len() != 1 + 2 * ids.len() {
            return Err(reply.unexpected());
        }
        let mut returned = Returned::default();
        // Each verdict goes with the id the caller sent, not the one the
        // script echoes: Lua holds integers exactly only up to 2^53, and a
        // not-positive id may be any i64.
        for (k, &id) in ids.iter().enumerate() {
            let i = 1 + 2 * k;
            match reply.text(i + 1)?.as_str() {
                "accepted" => returned.accepted.push(id),
                "never_issued" => returned.rejected.push((id, Rejection::NeverIssued)),
                "not_positive" => returned.rejected.push((id, Rejection::NotPositive)),
                "already_free" => returned.rejected.push((id, Rejection::AlreadyFree)),
                _ => return Err(reply.unexpected()),
            }
        }
        Ok(Replied {
            outcome: returned,
            replayed: reply.replayed,
        })
    }

    /// The highest id issued and how many ids are free.
    pub async fn sequence(&self, name: &Id, deadline: Deadline) -> Result<(i64, i64), Error> {
        let call = Call::read(Script::SequencesGet)
            .key(self.keys.sequence_high(name))
            .key(self.keys.sequence_free(name));
        let reply = self.redis.eval(&call, deadline).await?;
        if reply.tag()? != "sequence" {
            return Err(reply.unexpected());
        }
        Ok((reply.int(1)?, reply.int(2)?))
    }
}
