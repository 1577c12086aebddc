//! Id sequences that reuse returned ids first.

use super::{
    Context,
    binding::{Layout, Operation, Record},
    types::{Id, RequestId, kind::Sequence},
};
use crate::{
    error::Error,
    redis::{Call, Reply, Script},
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

/// Issues ids, returned ones first.
#[derive(Clone, Debug)]
pub struct NextIds {
    /// The sequence.
    pub name: Id<Sequence>,
    /// How many, 1 to 1000.
    pub count: usize,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// Gives ids back for reuse.
#[derive(Clone, Debug)]
pub struct ReturnIds {
    /// The sequence.
    pub name: Id<Sequence>,
    /// The ids, in request order.
    pub ids: Vec<i64>,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// Reads a sequence's state.
#[derive(Clone, Debug)]
pub struct GetSequence {
    /// The sequence.
    pub name: Id<Sequence>,
}

/// A sequence's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceState {
    /// The highest id ever issued (0: none).
    pub highest_issued: i64,
    /// How many ids are free for reuse.
    pub free_count: i64,
}

/// The positions every sequence script shares.
const KEYS: &[&str] = &["the highest id issued", "the free ids"];

impl Operation for NextIds {
    const SCRIPT: Script = Script::SequencesNext;
    const LAYOUT: Layout = Layout::write(KEYS, &["how many ids"]);
    /// The ids issued.
    type Outcome = Vec<i64>;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(
            &cx.keys,
            &self.name,
            self.request_id.as_ref(),
        ))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.sequence_high(&self.name))
            .key(cx.keys.sequence_free(&self.name))
            .arg(self.count)
    }

    fn decode(&self, reply: &Reply) -> Result<Vec<i64>, Error> {
        match reply.tag()? {
            "issued" => (1..reply.len()).map(|i| reply.int(i)).collect(),
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
}

impl Operation for ReturnIds {
    const SCRIPT: Script = Script::SequencesReturn;
    const LAYOUT: Layout = Layout::write(KEYS, &[]).lists(&[], &["3 .."]);
    type Outcome = Returned;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(
            &cx.keys,
            &self.name,
            self.request_id.as_ref(),
        ))
    }

    fn build(&self, cx: &Context, mut call: Call) -> Call {
        call = call
            .key(cx.keys.sequence_high(&self.name))
            .key(cx.keys.sequence_free(&self.name));
        for id in &self.ids {
            call = call.arg(*id);
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<Returned, Error> {
        if reply.tag()? != "returned" || reply.len() != 1 + 2 * self.ids.len() {
            return Err(reply.unexpected());
        }
        let mut returned = Returned::default();
        // Each verdict goes with the id the caller sent, not the one the
        // script echoes: Lua holds integers exactly only up to 2^53, and a
        // not-positive id may be any i64.
        for (k, &id) in self.ids.iter().enumerate() {
            match reply.text(2 + 2 * k)?.as_str() {
                "accepted" => returned.accepted.push(id),
                "never_issued" => returned.rejected.push((id, Rejection::NeverIssued)),
                "not_positive" => returned.rejected.push((id, Rejection::NotPositive)),
                "already_free" => returned.rejected.push((id, Rejection::AlreadyFree)),
                _ => return Err(reply.unexpected()),
            }
        }
        Ok(returned)
    }
}

impl Operation for GetSequence {
    const SCRIPT: Script = Script::SequencesGet;
    const LAYOUT: Layout = Layout::read(KEYS, &[]);
    type Outcome = SequenceState;

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.sequence_high(&self.name))
            .key(cx.keys.sequence_free(&self.name))
    }

    fn decode(&self, reply: &Reply) -> Result<SequenceState, Error> {
        if reply.tag()? != "sequence" {
            return Err(reply.unexpected());
        }
        Ok(SequenceState {
            highest_issued: reply.int(1)?,
            free_count: reply.int(2)?,
        })
    }
}
