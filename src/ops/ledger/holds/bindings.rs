//! The bindings of the pending transfers' scripts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    ExpireFunds, FundsEnding, FundsHold, FundsHoldOutcome, FundsHoldState, FundsPosted,
    GetFundsHold, Holding, Loaded, PostLoaded, VoidLoaded,
};
use crate::{
    error::Error,
    ops::{
        Context, Fence,
        binding::{Layout, Operation, Record},
        ledger::{BOOK_KEYS, BOOK_SETTINGS, Insufficient, book_call, overflow},
        types::{
            Id, RequestId,
            kind::{Account, Book, Transfer},
        },
    },
    redis::{Call, Reply, Script},
};

fn millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn ending<T>(reply: &Reply) -> Result<Loaded<FundsEnding<T>>, Error> {
    if let Some(current) = Fence::refused(reply)? {
        return Ok(Loaded::Done(FundsEnding::Fenced(current)));
    }
    Ok(Loaded::Done(match reply.tag()? {
        "not_found" => FundsEnding::NotFound,
        "already_posted" => FundsEnding::AlreadyPosted,
        "already_voided" => FundsEnding::AlreadyVoided,
        "expired" => FundsEnding::Expired(millis(reply.int(1)?)),
        "stale" => return Ok(Loaded::Stale),
        _ => return Err(reply.unexpected()),
    }))
}

/// The positions after the record that the post and the void share.
const ENDING_KEYS: [&str; 9] = [
    "the hold",
    BOOK_KEYS[0],
    BOOK_KEYS[1],
    BOOK_KEYS[2],
    BOOK_KEYS[3],
    BOOK_KEYS[4],
    "the source account's entries",
    "the target account's entries",
    "the fence's lease",
];

/// The fence's lease key and token, the lease in the book's slot.
fn fenced(cx: &Context, book: &Id<Book>, fence: Option<&Fence>, call: Call) -> Call {
    let balances = cx.keys.balances(book);
    call.key(Fence::key(fence, cx, &balances))
        .arg(Fence::token(fence))
}

/// Refuses a fence outside the book's slot (cluster mode).
fn check_fence(cx: &Context, book: &Id<Book>, fence: Option<&Fence>) -> Result<(), Error> {
    Fence::check(fence, cx, &cx.keys.balances(book), "book")
}

impl Operation for Holding<'_> {
    const SCRIPT: Script = Script::LedgerHoldFunds;
    const LAYOUT: Layout = Layout::write(
        &[
            BOOK_KEYS[0],
            BOOK_KEYS[1],
            BOOK_KEYS[2],
            BOOK_KEYS[3],
            BOOK_KEYS[4],
            "the source account's entries",
            "the target account's entries",
            "the fence's lease",
        ],
        &[
            BOOK_SETTINGS[0],
            BOOK_SETTINGS[1],
            BOOK_SETTINGS[2],
            "the source account",
            "the target account",
            "the amount",
            "how long the hold lasts",
            "reference",
            "description",
            "the hold id",
            "the fence's token",
        ],
    );
    type Outcome = FundsHoldOutcome;

    fn check(&self, cx: &Context) -> Result<(), Error> {
        check_fence(cx, &self.0.book, self.0.fence.as_ref())
    }

    /// The hold's record is its idempotency record.
    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record {
            key: cx.keys.funds_hold(&self.0.book, &self.0.hold_id),
            requested: true,
        })
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let r = self.0;
        let ms = u64::try_from(r.ttl.as_millis()).unwrap_or(u64::MAX);
        let call = book_call(cx, &r.book, call)
            .key(cx.keys.account_entries(&r.book, &r.from))
            .key(cx.keys.account_entries(&r.book, &r.to))
            .arg(r.from.as_str())
            .arg(r.to.as_str())
            .arg(r.amount.get())
            .arg(ms)
            .arg(r.reference.as_str())
            .arg(r.description.as_str())
            .arg(r.hold_id.as_str());
        fenced(cx, &r.book, r.fence.as_ref(), call)
    }

    fn decode(&self, reply: &Reply) -> Result<FundsHoldOutcome, Error> {
        if let Some(current) = Fence::refused(reply)? {
            return Ok(FundsHoldOutcome::Fenced(current));
        }
        match reply.tag()? {
            "held" => Ok(FundsHoldOutcome::Held {
                expires_at: millis(reply.int(1)?),
                available: reply.int(2)?,
                entry_id: reply.text(3)?,
            }),
            "insufficient" => Ok(FundsHoldOutcome::Insufficient(Insufficient {
                account: self.0.from.to_string(),
                balance: reply.int(1)?,
                requested: reply.int(2)?,
            })),
            "overflow" => Err(overflow(&self.0.to, reply.int(1)?)),
            _ => Err(reply.unexpected()),
        }
    }
}

/// Builds the post's or the void's call up to its own arguments.
fn ending_call(
    cx: &Context,
    book: &Id<Book>,
    hold_id: &Id<Transfer>,
    accounts: &(String, String),
    call: Call,
) -> Call {
    let call = call.key(cx.keys.funds_hold(book, hold_id));
    let (from, to) = accounts;
    // The accounts were read back from the hold, which only holds valid
    // ids; a bad one reads as stale in the script (it names no account).
    let stream = |account: &str| match Id::<Account>::parse(account) {
        Ok(account) => cx.keys.account_entries(book, &account),
        Err(_) => cx.keys.entries(book),
    };
    let (from_stream, to_stream) = (stream(from), stream(to));
    book_call(cx, book, call)
        .key(from_stream)
        .key(to_stream)
        .arg(hold_id.as_str())
        .arg(from.as_str())
        .arg(to.as_str())
}

impl Operation for PostLoaded {
    const SCRIPT: Script = Script::LedgerPostHold;
    const LAYOUT: Layout = Layout::write(
        &ENDING_KEYS,
        &[
            BOOK_SETTINGS[0],
            BOOK_SETTINGS[1],
            BOOK_SETTINGS[2],
            "the hold id",
            "the source account",
            "the target account",
            "the amount to post",
            "reference",
            "description",
            "the fence's token",
        ],
    );
    type Outcome = Loaded<FundsEnding<FundsPosted>>;

    fn check(&self, cx: &Context) -> Result<(), Error> {
        check_fence(cx, &self.request.book, self.request.fence.as_ref())
    }

    fn record(&self, cx: &Context) -> Option<Record> {
        let r = &self.request;
        Some(Record::tagged(&cx.keys, &r.book, r.request_id.as_ref()))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let r = &self.request;
        let call = ending_call(cx, &r.book, &r.hold_id, &self.accounts, call);
        let call = match r.amount {
            Some(amount) => call.arg(amount.get()),
            None => call.arg("all"),
        };
        let call = call.arg(r.reference.as_str()).arg(r.description.as_str());
        fenced(cx, &r.book, r.fence.as_ref(), call)
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        match reply.tag()? {
            "posted" => Ok(Loaded::Done(FundsEnding::Done(FundsPosted {
                amount: reply.int(1)?,
                released: reply.int(2)?,
                from_balance: reply.int(3)?,
                to_balance: reply.int(4)?,
                entry_id: reply.text(5)?,
            }))),
            "exceeds" => Err(Error::invalid(
                "amount",
                format!(
                    "the hold holds {}, less than the {} to post",
                    reply.int(1)?,
                    reply.int(2)?
                ),
            )),
            _ => ending(reply),
        }
    }
}

impl Operation for VoidLoaded {
    const SCRIPT: Script = Script::LedgerVoidHold;
    const LAYOUT: Layout = Layout::write(
        &ENDING_KEYS,
        &[
            BOOK_SETTINGS[0],
            BOOK_SETTINGS[1],
            BOOK_SETTINGS[2],
            "the hold id",
            "the source account",
            "the target account",
            "the fence's token",
        ],
    );
    /// The amount released and the entry's id.
    type Outcome = Loaded<FundsEnding<(i64, String)>>;

    fn check(&self, cx: &Context) -> Result<(), Error> {
        check_fence(cx, &self.request.book, self.request.fence.as_ref())
    }

    fn record(&self, cx: &Context) -> Option<Record> {
        let r = &self.request;
        Some(Record::tagged(&cx.keys, &r.book, r.request_id.as_ref()))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let r = &self.request;
        let call = ending_call(cx, &r.book, &r.hold_id, &self.accounts, call);
        fenced(cx, &r.book, r.fence.as_ref(), call)
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        match reply.tag()? {
            "voided" => Ok(Loaded::Done(FundsEnding::Done((
                reply.int(1)?,
                reply.text(2)?,
            )))),
            _ => ending(reply),
        }
    }
}

impl Operation for GetFundsHold {
    const SCRIPT: Script = Script::LedgerGetHold;
    const LAYOUT: Layout = Layout::read(&["the hold"], &["clock skew"]);
    /// The hold; `None`: no such hold.
    type Outcome = Option<FundsHold>;

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.funds_hold(&self.book, &self.hold_id))
            .setting(cx.clock_skew_secs)
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        match reply.tag()? {
            "hold" => {
                let state = match reply.text(1)?.as_str() {
                    "held" => FundsHoldState::Held,
                    "posted" => FundsHoldState::Posted,
                    "voided" => FundsHoldState::Voided,
                    "expired" => FundsHoldState::Expired,
                    _ => return Err(reply.unexpected()),
                };
                let ended = reply.int(3)?;
                Ok(Some(FundsHold {
                    hold_id: self.hold_id.to_string(),
                    state,
                    expires_at: millis(reply.int(2)?),
                    ended_at: (ended > 0).then(|| millis(ended)),
                    from: reply.text(4)?,
                    to: reply.text(5)?,
                    amount: reply.int(6)?,
                    posted: reply.int(7)?,
                }))
            }
            "not_found" => Ok(None),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for ExpireFunds {
    const SCRIPT: Script = Script::LedgerExpireHolds;
    const LAYOUT: Layout = Layout::write(&BOOK_KEYS, &BOOK_SETTINGS);
    /// How many holds it ended, and how many due ones are left.
    type Outcome = (i64, i64);

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(&cx.keys, &self.book, None::<&RequestId>))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        book_call(cx, &self.book, call)
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        if reply.tag()? != "expired" {
            return Err(reply.unexpected());
        }
        Ok((reply.int(1)?, reply.int(2)?))
    }
}
