//! Pending transfers: money held from one account for another, posted (in
//! full or in part) or voided later, or expired by Redis's clock
//! (`lua/lib/funds.lua`). The requests and outcomes are here, the script
//! bindings in `bindings`, the requests that take more than one script in
//! `execute`.

mod bindings;
mod execute;

use std::time::{Duration, SystemTime};

use super::Insufficient;
use crate::ops::{
    Fence,
    types::{
        Amount, Id, RequestId,
        kind::{Account, Book, Transfer},
    },
};

/// Money of `from` held for `to` until a post, a void or `ttl`.
#[derive(Clone, Debug)]
pub struct HoldFunds {
    /// The book.
    pub book: Id<Book>,
    /// The hold id, its idempotency key.
    pub hold_id: Id<Transfer>,
    /// The account money is held from.
    pub from: Id<Account>,
    /// The account it is held for.
    pub to: Id<Account>,
    /// Minor units.
    pub amount: Amount,
    /// How long the hold lasts (whole milliseconds, at least one).
    pub ttl: Duration,
    /// The caller's reference.
    pub reference: String,
    /// The caller's description.
    pub description: String,
    /// Hold only while this lease grant is current.
    pub fence: Option<Fence>,
}

/// What holding money did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FundsHoldOutcome {
    /// Held.
    Held {
        /// When it expires, by Redis's clock.
        expires_at: SystemTime,
        /// What the source has available after.
        available: i64,
        /// The entry's id.
        entry_id: String,
    },
    /// The source has less available; nothing is held.
    Insufficient(Insufficient),
    /// The fence's token is not current; the newest current token (0:
    /// none). Nothing is held.
    Fenced(u64),
}

/// Posts a pending transfer, all of it (`amount: None`) or part.
#[derive(Clone, Debug)]
pub struct PostHold {
    /// The book.
    pub book: Id<Book>,
    /// The hold.
    pub hold_id: Id<Transfer>,
    /// What to post; the rest is released.
    pub amount: Option<Amount>,
    /// The caller's reference.
    pub reference: String,
    /// The caller's description.
    pub description: String,
    /// The idempotency key of the post.
    pub request_id: Option<RequestId>,
    /// Post only while this lease grant is current.
    pub fence: Option<Fence>,
}

/// A posted pending transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundsPosted {
    /// Minor units moved.
    pub amount: i64,
    /// Minor units released.
    pub released: i64,
    /// The source's balance after.
    pub from_balance: i64,
    /// The target's balance after.
    pub to_balance: i64,
    /// The entry's id.
    pub entry_id: String,
}

/// Voids a pending transfer.
#[derive(Clone, Debug)]
pub struct VoidHold {
    /// The book.
    pub book: Id<Book>,
    /// The hold.
    pub hold_id: Id<Transfer>,
    /// The idempotency key of the void.
    pub request_id: Option<RequestId>,
    /// Void only while this lease grant is current.
    pub fence: Option<Fence>,
}

/// What posting or voiding did: `T`, or why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FundsEnding<T> {
    /// Done.
    Done(T),
    /// No such hold.
    NotFound,
    /// Posted before.
    AlreadyPosted,
    /// Voided before.
    AlreadyVoided,
    /// It expired, at this time.
    Expired(SystemTime),
    /// The fence's token is not current; the newest current token (0:
    /// none). Nothing was written.
    Fenced(u64),
}

/// Reads a pending transfer.
#[derive(Clone, Debug)]
pub struct GetFundsHold {
    /// The book.
    pub book: Id<Book>,
    /// The hold.
    pub hold_id: Id<Transfer>,
}

/// Where a pending transfer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FundsHoldState {
    /// Held.
    Held,
    /// Posted.
    Posted,
    /// Voided.
    Voided,
    /// Expired.
    Expired,
}

/// A pending transfer as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundsHold {
    /// Its id.
    pub hold_id: String,
    /// Where it stands.
    pub state: FundsHoldState,
    /// When it expires or expired.
    pub expires_at: SystemTime,
    /// When it ended, if it has.
    pub ended_at: Option<SystemTime>,
    /// The source account.
    pub from: String,
    /// The target account.
    pub to: String,
    /// Minor units held.
    pub amount: i64,
    /// Minor units posted.
    pub posted: i64,
}

/// Ends a book's due holds (`ledger_expire_holds`), for the sweep.
#[derive(Clone, Debug)]
pub struct ExpireFunds {
    pub(in crate::ops) book: Id<Book>,
}

/// HoldFunds' script; [`HoldFunds`] runs it, then notes the hold for the
/// sweep.
#[derive(Clone, Copy, Debug)]
pub struct Holding<'a>(pub(super) &'a HoldFunds);

/// The post itself, once the hold's accounts are known.
#[derive(Clone, Debug)]
pub struct PostLoaded {
    request: PostHold,
    accounts: (String, String),
}

/// The void itself, once the hold's accounts are known.
#[derive(Clone, Debug)]
pub struct VoidLoaded {
    request: VoidHold,
    accounts: (String, String),
}

/// A write that read its hold first: done, or read again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loaded<T> {
    /// Done.
    Done(T),
    /// The hold changed since it was read.
    Stale,
}
