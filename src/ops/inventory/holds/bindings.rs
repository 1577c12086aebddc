//! The bindings of the holds' scripts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    CommitLoaded, Committed, Ending, ExpireHolds, GetHold, Held, HoldLine, HoldOutcome, HoldState,
    HoldStock, HoldView, ListHolds, Loaded, ReleaseLoaded,
};
use crate::{
    error::Error,
    ops::{
        Context, Fence,
        binding::{Layout, Operation, Record},
        inventory::{Level, STOCK_KEYS, STOCK_SETTINGS, Shortfall, StockChange, stock_call},
        types::{Id, RequestId, kind::Store},
    },
    redis::{Call, Reply, Script},
};

/// The positions after the record that the commit and the release share.
const ENDING_KEYS: [&str; 5] = [
    "the hold",
    STOCK_KEYS[0],
    STOCK_KEYS[1],
    STOCK_KEYS[2],
    STOCK_KEYS[3],
];
const ENDING_KEYS_FENCED: [&str; 6] = [
    ENDING_KEYS[0],
    ENDING_KEYS[1],
    ENDING_KEYS[2],
    ENDING_KEYS[3],
    ENDING_KEYS[4],
    "the fence's lease",
];
const ENDING_ARGV: [&str; 5] = [
    STOCK_SETTINGS[0],
    STOCK_SETTINGS[1],
    STOCK_SETTINGS[2],
    "the hold id",
    "the fence's token",
];
/// HoldStock's fixed keys: the store's, and the fence's lease.
const HOLD_KEYS: [&str; 5] = [
    STOCK_KEYS[0],
    STOCK_KEYS[1],
    STOCK_KEYS[2],
    STOCK_KEYS[3],
    "the fence's lease",
];

/// The fence's lease key and token, the lease in the store's slot.
fn fenced(cx: &Context, store: &Id<Store>, fence: Option<&Fence>, call: Call) -> Call {
    let stock = cx.keys.stock(store);
    call.key(Fence::key(fence, cx, &stock))
        .arg(Fence::token(fence))
}

/// Refuses a fence outside the store's slot (cluster mode).
fn check_fence(cx: &Context, store: &Id<Store>, fence: Option<&Fence>) -> Result<(), Error> {
    Fence::check(fence, cx, &cx.keys.stock(store), "store")
}

fn millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A hold's lines in a reply, from `first` on: `{product, units, …}`.
fn levels(reply: &Reply, first: usize) -> Result<Vec<Level>, Error> {
    (first..reply.len())
        .map(|i| {
            let line = reply.nested(i)?;
            Ok(Level {
                product: line.text(0)?,
                on_hand: line.int(1)?,
                held: line.int(2)?,
            })
        })
        .collect()
}

/// The replies the commit and the release share.
fn ending<T>(reply: &Reply) -> Result<Ending<T>, Error> {
    if let Some(current) = Fence::refused(reply)? {
        return Ok(Ending::Fenced(current));
    }
    match reply.tag()? {
        "not_found" => Ok(Ending::NotFound),
        "already_committed" => Ok(Ending::AlreadyCommitted),
        "already_released" => Ok(Ending::AlreadyReleased),
        "expired" => Ok(Ending::Expired(millis(reply.int(1)?))),
        _ => Err(reply.unexpected()),
    }
}

/// HoldStock's script; [`HoldStock`] runs it, then notes the hold for the
/// sweep.
#[derive(Clone, Copy, Debug)]
pub struct Holding<'a>(pub(super) &'a HoldStock);

impl Operation for Holding<'_> {
    const SCRIPT: Script = Script::InventoryHoldStock;
    const LAYOUT: Layout = Layout::write(
        &HOLD_KEYS,
        &[
            STOCK_SETTINGS[0],
            STOCK_SETTINGS[1],
            STOCK_SETTINGS[2],
            "the hold id",
            "how long the hold lasts",
            "the fence's token",
        ],
    )
    .lists(&["7 .. 6+N"], &["9 .. 8+2N"]);
    type Outcome = HoldOutcome;

    fn check(&self, cx: &Context) -> Result<(), Error> {
        check_fence(cx, &self.0.store, self.0.fence.as_ref())
    }

    /// The hold's record is its idempotency record, at its order's key.
    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record {
            key: cx.keys.order(&self.0.store, &self.0.hold_id),
            requested: true,
        })
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let ms = u64::try_from(self.0.ttl.as_millis()).unwrap_or(u64::MAX);
        let call = stock_call(cx, &self.0.store, call)
            .arg(self.0.hold_id.as_str())
            .arg(ms);
        let mut call = fenced(cx, &self.0.store, self.0.fence.as_ref(), call);
        for item in &self.0.items {
            call = call
                .key(cx.keys.product_movements(&self.0.store, &item.product))
                .arg(item.product.as_str())
                .arg(item.units.get());
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<HoldOutcome, Error> {
        if let Some(current) = Fence::refused(reply)? {
            return Ok(HoldOutcome::Fenced(current));
        }
        match reply.tag()? {
            "held" => Ok(HoldOutcome::Held(Held {
                expires_at: millis(reply.int(1)?),
                levels: levels(reply, 2)?,
            })),
            "insufficient" => Ok(HoldOutcome::Insufficient(Shortfall {
                product: reply.text(1)?,
                available: reply.int(2)?,
                requested: reply.int(3)?,
            })),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for CommitLoaded {
    const SCRIPT: Script = Script::InventoryCommitHold;
    const LAYOUT: Layout =
        Layout::write(&ENDING_KEYS_FENCED, &ENDING_ARGV).lists(&["8 .. 7+N"], &["8 .. 7+2N"]);
    type Outcome = Loaded<Ending<Committed>>;

    fn check(&self, cx: &Context) -> Result<(), Error> {
        check_fence(cx, &self.request.store, self.request.fence.as_ref())
    }

    fn record(&self, cx: &Context) -> Option<Record> {
        let r = &self.request;
        Some(Record::tagged(&cx.keys, &r.store, r.request_id.as_ref()))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let r = &self.request;
        let call = call.key(cx.keys.order(&r.store, &r.hold_id));
        let call = stock_call(cx, &r.store, call).arg(r.hold_id.as_str());
        let mut call = fenced(cx, &r.store, r.fence.as_ref(), call);
        for (product, units) in &self.lines {
            call = call
                .key(cx.keys.product_movements(&r.store, product))
                .arg(product.as_str());
            call = match units {
                Some(units) => call.arg(*units),
                None => call.arg("all"),
            };
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        match reply.tag()? {
            "committed" => {
                let mut committed = Committed {
                    changes: Vec::new(),
                    released: Vec::new(),
                };
                for i in 1..reply.len() {
                    let line = reply.nested(i)?;
                    let product = line.text(0)?;
                    committed.changes.push(StockChange {
                        product: product.clone(),
                        before: line.int(1)?,
                        after: line.int(2)?,
                    });
                    committed.released.push((product, line.int(3)?));
                }
                Ok(Loaded::Done(Ending::Done(committed)))
            }
            "exceeds" => Err(Error::invalid(
                "items",
                format!(
                    "the hold holds {} of {}, fewer than the {} to commit",
                    reply.int(2)?,
                    reply.text(1)?,
                    reply.int(3)?
                ),
            )),
            "stale" => Ok(Loaded::Stale),
            _ => ending(reply).map(Loaded::Done),
        }
    }
}

impl Operation for ReleaseLoaded {
    const SCRIPT: Script = Script::InventoryReleaseHold;
    const LAYOUT: Layout =
        Layout::write(&ENDING_KEYS_FENCED, &ENDING_ARGV).lists(&["8 .. 7+N"], &["8 .. 7+N"]);
    type Outcome = Loaded<Ending<Vec<(String, i64)>>>;

    fn check(&self, cx: &Context) -> Result<(), Error> {
        check_fence(cx, &self.request.store, self.request.fence.as_ref())
    }

    fn record(&self, cx: &Context) -> Option<Record> {
        let r = &self.request;
        Some(Record::tagged(&cx.keys, &r.store, r.request_id.as_ref()))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let r = &self.request;
        let call = call.key(cx.keys.order(&r.store, &r.hold_id));
        let call = stock_call(cx, &r.store, call).arg(r.hold_id.as_str());
        let mut call = fenced(cx, &r.store, r.fence.as_ref(), call);
        for product in &self.products {
            call = call
                .key(cx.keys.product_movements(&r.store, product))
                .arg(product.as_str());
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        match reply.tag()? {
            "released" => (1..reply.len())
                .map(|i| {
                    let line = reply.nested(i)?;
                    Ok((line.text(0)?, line.int(1)?))
                })
                .collect::<Result<_, _>>()
                .map(|items| Loaded::Done(Ending::Done(items))),
            "stale" => Ok(Loaded::Stale),
            _ => ending(reply).map(Loaded::Done),
        }
    }
}

fn state(text: &str) -> Option<HoldState> {
    Some(match text {
        "held" => HoldState::Held,
        "committed" => HoldState::Committed,
        "released" => HoldState::Released,
        "expired" => HoldState::Expired,
        "cancelled" => HoldState::Cancelled,
        _ => return None,
    })
}

impl Operation for GetHold {
    const SCRIPT: Script = Script::InventoryGetHold;
    const LAYOUT: Layout = Layout::read(&["the hold"], &["clock skew"]);
    /// The hold; `None`: no such hold.
    type Outcome = Option<HoldView>;

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.order(&self.store, &self.hold_id))
            .setting(cx.clock_skew_secs)
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        match reply.tag()? {
            "hold" => {
                let state = state(&reply.text(1)?).ok_or_else(|| reply.unexpected())?;
                let ended = reply.int(3)?;
                let lines = (4..reply.len())
                    .map(|i| {
                        let line = reply.nested(i)?;
                        Ok(HoldLine {
                            product: line.text(0)?,
                            units: line.int(1)?,
                            committed: line.int(2)?,
                        })
                    })
                    .collect::<Result<_, Error>>()?;
                Ok(Some(HoldView {
                    hold_id: self.hold_id.to_string(),
                    state,
                    expires_at: millis(reply.int(2)?),
                    ended_at: (ended > 0).then(|| millis(ended)),
                    lines,
                }))
            }
            "not_found" => Ok(None),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for ListHolds {
    const SCRIPT: Script = Script::InventoryListHolds;
    const LAYOUT: Layout = Layout::read(
        &["the store's holds"],
        &[
            "clock skew",
            "page size",
            "after this expiry",
            "after this hold id",
        ],
    );
    /// The holds, and whether more follow.
    type Outcome = (Vec<HoldView>, bool);

    fn build(&self, cx: &Context, call: Call) -> Call {
        let (expiry, id) = match &self.after {
            Some((expiry, id)) => (expiry.to_string(), id.as_str()),
            None => (String::new(), ""),
        };
        call.key(cx.keys.holds(&self.store))
            .setting(cx.clock_skew_secs)
            .arg(self.size)
            .arg(expiry)
            .arg(id)
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        if reply.tag()? != "holds" {
            return Err(reply.unexpected());
        }
        let holds = (2..reply.len())
            .map(|i| {
                let hold = reply.nested(i)?;
                let lines = (2..hold.len())
                    .step_by(2)
                    .map(|j| {
                        Ok(HoldLine {
                            product: hold.text(j)?,
                            units: hold.int(j + 1)?,
                            committed: 0,
                        })
                    })
                    .collect::<Result<_, Error>>()?;
                Ok(HoldView {
                    hold_id: hold.text(0)?,
                    state: HoldState::Held,
                    expires_at: millis(hold.int(1)?),
                    ended_at: None,
                    lines,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok((holds, reply.int(1)? == 1))
    }
}

impl Operation for ExpireHolds {
    const SCRIPT: Script = Script::InventoryExpireHolds;
    const LAYOUT: Layout = Layout::write(&STOCK_KEYS, &STOCK_SETTINGS);
    /// How many holds it ended, and how many due ones are left.
    type Outcome = (i64, i64);

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(&cx.keys, &self.store, None::<&RequestId>))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        stock_call(cx, &self.store, call)
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        if reply.tag()? != "expired" {
            return Err(reply.unexpected());
        }
        Ok((reply.int(1)?, reply.int(2)?))
    }
}
