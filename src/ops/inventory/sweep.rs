//! The sweep: ends due holds in stores nobody touches.
//!
//! Every call that changes a store ends its due holds itself, and no read
//! counts them, so the sweep is not needed for correctness: it makes an
//! expiry show in the store's journal, and its units in `held`, soon after
//! it is due rather than at the store's next write. HoldStock notes each
//! hold in an index sharded across [`SHARDS`] keys (`inventory_due_add`);
//! the sweep takes the due ones out (`inventory_due_take`) and ends them
//! store by store (`inventory_expire_holds`). Any number of instances may
//! sweep at once: ending a hold is exactly-once inside the script.

use std::collections::BTreeSet;

use super::{DueTake, ExpireHolds};
use crate::{
    deadline::Deadline,
    error::Error,
    ops::{
        Context,
        types::{
            Id,
            kind::{Order, Store},
        },
    },
    redis::slot::slot,
};

/// How many keys the index is spread over.
pub const SHARDS: u16 = 16;

/// Most index entries one shard gives per sweep.
const TAKE: usize = 256;

/// Most rounds of `inventory_expire_holds` per store per sweep (each ends
/// up to 32 holds); the rest waits for the next sweep, whose index entries
/// were taken but whose holds are still due and still ended by any write.
const ROUNDS: usize = 16;

/// The index shard and member of a hold.
pub(super) fn due_member(cx: &Context, store: &Id<Store>, hold: &Id<Order>) -> (String, String) {
    let shard = slot(store.as_str()) % SHARDS;
    (cx.keys.holds_due(shard), format!("{store} {hold}"))
}

/// One sweep over every shard; returns how many holds it ended.
pub async fn sweep_holds(cx: &Context, deadline: Deadline) -> Result<i64, Error> {
    let mut ended = 0;
    for shard in 0..SHARDS {
        let take = DueTake {
            shard: cx.keys.holds_due(shard),
            max: TAKE,
        };
        let members = cx.run(&take, deadline).await?.outcome;
        let stores: BTreeSet<&str> = members
            .iter()
            .filter_map(|member| member.split_once(' ').map(|(store, _)| store))
            .collect();
        for store in stores {
            let Ok(store) = Id::parse(store) else {
                continue;
            };
            let expire = ExpireHolds { store };
            for _ in 0..ROUNDS {
                let (count, left) = cx.run(&expire, deadline).await?.outcome;
                ended += count;
                if left == 0 {
                    break;
                }
            }
        }
    }
    Ok(ended)
}
