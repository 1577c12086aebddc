//! The sweep: ends due holds in stores and books nobody touches.
//!
//! Every call that changes a store or a book ends its due holds itself,
//! and no read counts them, so the sweep is not needed for correctness: it
//! makes an expiry show in the journal, and its units or money leave the
//! held sums, soon after it is due rather than at the next write. Each hold
//! is noted in an index sharded across [`SHARDS`] keys per namespace
//! (`holds_due_add`); the sweep takes the due ones out (`holds_due_take`)
//! and ends them store by store and book by book
//! (`inventory_expire_holds`, `ledger_expire_holds`). Any number of
//! instances may sweep at once: ending a hold is exactly-once inside the
//! script.

use std::{
    collections::BTreeSet,
    time::{SystemTime, UNIX_EPOCH},
};

use super::{
    Context,
    binding::{Layout, Operation},
    inventory::ExpireHolds,
    ledger::ExpireFunds,
    types::{
        Id, Tag,
        kind::{Book, Store},
    },
};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Reply, Script, slot::slot},
};

/// How many keys each namespace's index is spread over.
pub const SHARDS: u16 = 16;

/// Most index entries one shard gives per sweep.
const TAKE: usize = 256;

/// Most rounds of ending per store or book per sweep (each ends up to 32
/// holds); the rest waits for its next write, since their index entries
/// are taken. Reads never count them meanwhile.
const ROUNDS: usize = 16;

/// Notes a hold in the sweep's index.
#[derive(Clone, Debug)]
pub struct DueAdd {
    shard: String,
    expires_ms: u64,
    member: String,
}

impl DueAdd {
    /// The note of hold `hold` of store or book `tag`, due at `expires_at`.
    pub fn new<T: Tag>(
        cx: &Context,
        tag: &Id<T>,
        hold: &impl std::fmt::Display,
        expires_at: SystemTime,
    ) -> Self {
        let expires_ms = expires_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            shard: cx.keys.holds_due::<T>(slot(tag.as_str()) % SHARDS),
            expires_ms,
            member: format!("{tag} {hold}"),
        }
    }
}

/// Takes the due holds out of one shard of the sweep's index.
#[derive(Clone, Debug)]
pub struct DueTake {
    shard: String,
    max: usize,
}

impl Operation for DueAdd {
    const SCRIPT: Script = Script::HoldsDueAdd;
    const LAYOUT: Layout = Layout::read(&["one shard of the index"], &["expiry", "the member"]);
    type Outcome = ();

    fn build(&self, _cx: &Context, call: Call) -> Call {
        call.key(self.shard.clone())
            .arg(self.expires_ms)
            .arg(self.member.as_str())
    }

    fn decode(&self, reply: &Reply) -> Result<(), Error> {
        match reply.tag()? {
            "added" => Ok(()),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for DueTake {
    const SCRIPT: Script = Script::HoldsDueTake;
    const LAYOUT: Layout = Layout::read(&["one shard of the index"], &["clock skew", "at most"]);
    /// The members taken.
    type Outcome = Vec<String>;

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(self.shard.clone())
            .setting(cx.clock_skew_secs)
            .arg(self.max)
    }

    fn decode(&self, reply: &Reply) -> Result<Vec<String>, Error> {
        if reply.tag()? != "due" {
            return Err(reply.unexpected());
        }
        (1..reply.len()).map(|i| reply.text(i)).collect()
    }
}

/// The stores or books with holds due in `T`'s index, taken out of it.
async fn take_due<T: Tag>(cx: &Context, deadline: Deadline) -> Result<Vec<Id<T>>, Error> {
    let mut tags = BTreeSet::new();
    for shard in 0..SHARDS {
        let take = DueTake {
            shard: cx.keys.holds_due::<T>(shard),
            max: TAKE,
        };
        for member in cx.run(&take, deadline).await?.outcome {
            if let Some((tag, _)) = member.split_once(' ') {
                tags.insert(tag.to_owned());
            }
        }
    }
    Ok(tags.iter().filter_map(|tag| Id::parse(tag).ok()).collect())
}

/// Runs an ending script until nothing is due or [`ROUNDS`] is reached;
/// returns how many holds it ended.
async fn end_due<O>(cx: &Context, ending: &O, deadline: Deadline) -> Result<i64, Error>
where
    O: Operation<Outcome = (i64, i64)>,
{
    let mut ended = 0;
    for _ in 0..ROUNDS {
        let (count, left) = cx.run(ending, deadline).await?.outcome;
        ended += count;
        if left == 0 {
            break;
        }
    }
    Ok(ended)
}

/// One sweep over every shard of both indexes; returns how many holds it
/// ended.
pub async fn sweep_holds(cx: &Context, deadline: Deadline) -> Result<i64, Error> {
    let mut ended = 0;
    for store in take_due::<Store>(cx, deadline).await? {
        ended += end_due(cx, &ExpireHolds { store }, deadline).await?;
    }
    for book in take_due::<Book>(cx, deadline).await? {
        ended += end_due(cx, &ExpireFunds { book }, deadline).await?;
    }
    Ok(ended)
}
