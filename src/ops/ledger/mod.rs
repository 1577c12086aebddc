//! Integer money: balances, transfers, and the audit trail.
//!
//! The requests and outcomes are here; their bindings in `postings`
//! (credits, debits, transfers), `reads` (balances, entries) and `holds`
//! (pending transfers, which has its own types).

mod holds;
mod postings;
mod reads;

use std::time::SystemTime;

pub(super) use holds::ExpireFunds;
pub use holds::{
    FundsEnding, FundsHold, FundsHoldOutcome, FundsHoldState, FundsPosted, GetFundsHold, HoldFunds,
    PostHold, VoidHold,
};
#[cfg(test)]
pub(super) use holds::{Holding, PostLoaded, VoidLoaded};

use super::{
    Context,
    types::{
        Amount, Id, RequestId,
        kind::{self, Account, Book},
    },
};
use crate::{error::Error, redis::Call};

/// The keys every money-changing script has after its record (and the
/// hold's, to post or void one): the book's balances, journal and holds.
const BOOK_KEYS: [&str; 5] = [
    "balances",
    "the book's entries",
    "pending debits",
    "pending credits",
    "the book's holds",
];

/// The settings every money-changing script starts its arguments with.
const BOOK_SETTINGS: [&str; 3] = ["retention", "clock skew", "the caller's principal"];

/// Appends the keys and the settings every money-changing script starts
/// with.
fn book_call(cx: &Context, book: &Id<Book>, call: Call) -> Call {
    call.key(cx.keys.balances(book))
        .key(cx.keys.entries(book))
        .key(cx.keys.pending_debits(book))
        .key(cx.keys.pending_credits(book))
        .key(cx.keys.book_holds(book))
        .setting(cx.ledger_retention.to_string())
        .setting(cx.clock_skew_secs)
        .setting(super::caller::name())
}

/// An account's balances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    /// The account.
    pub account: String,
    /// Posted: what it has.
    pub posted: i64,
    /// Held from it by pending transfers not ended nor expired.
    pub pending_debits: i64,
    /// Held for it by pending transfers not ended nor expired.
    pub pending_credits: i64,
}

impl Balance {
    /// What a debit, a transfer or a new hold may take.
    #[must_use]
    pub fn available(&self) -> i64 {
        self.posted - self.pending_debits
    }
}

/// A credit or debit of one account: what [`Credit`] and [`Debit`] take.
#[derive(Clone, Debug)]
pub struct Posting {
    /// The book.
    pub book: Id<Book>,
    /// The account.
    pub account: Id<Account>,
    /// Minor units, 1 to 2^53−1.
    pub amount: Amount,
    /// The caller's reference.
    pub reference: String,
    /// The caller's description.
    pub description: String,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// Money into one account.
#[derive(Clone, Debug)]
pub struct Credit(pub Posting);

/// Money out of one account, never past zero.
#[derive(Clone, Debug)]
pub struct Debit(pub Posting);

/// Reads balances.
#[derive(Clone, Debug)]
pub struct GetBalances {
    /// The book.
    pub book: Id<Book>,
    /// The accounts, in the order their balances are wanted.
    pub accounts: Vec<Id<Account>>,
}

/// A transfer request.
#[derive(Clone, Debug)]
pub struct Transfer {
    /// The book.
    pub book: Id<Book>,
    /// The source account.
    pub from: Id<Account>,
    /// The target account.
    pub to: Id<Account>,
    /// Minor units, 1 to 2^53−1.
    pub amount: Amount,
    /// The transfer's id and idempotency key.
    pub transfer_id: Id<kind::Transfer>,
    /// The caller's reference.
    pub reference: String,
    /// The caller's description.
    pub description: String,
}

/// The source holds less than the amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insufficient {
    /// The account that is short.
    pub account: String,
    /// What it has available (posted minus pending debits).
    pub balance: i64,
    /// The amount asked for.
    pub requested: i64,
}

/// A posted credit or debit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    /// The balance before.
    pub before: i64,
    /// The balance after.
    pub after: i64,
    /// The entry's id.
    pub entry_id: String,
}

/// What a debit did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DebitOutcome {
    /// Posted.
    Posted(Posted),
    /// The account holds less; nothing changed.
    Insufficient(Insufficient),
}

/// What a transfer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferOutcome {
    /// Moved.
    Transferred {
        /// The source's balance after.
        from_balance: i64,
        /// The target's balance after.
        to_balance: i64,
        /// The entry's id.
        entry_id: String,
    },
    /// The source is short; nothing changed.
    Insufficient(Insufficient),
}

/// What made an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A credit.
    Credit,
    /// A debit.
    Debit,
    /// A transfer.
    Transfer,
    /// A pending transfer made (HoldFunds).
    Hold,
    /// A pending transfer posted.
    Post,
    /// A pending transfer voided.
    Void,
    /// A pending transfer expired.
    Expire,
}

/// One change in a book's audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its id in the book's stream.
    pub id: String,
    /// What made it.
    pub kind: EntryKind,
    /// The account money left ('' for credits).
    pub from: String,
    /// The account money reached ('' for debits).
    pub to: String,
    /// Minor units moved.
    pub amount: i64,
    /// The source's balance before and after.
    pub from_balance: (i64, i64),
    /// The target's balance before and after.
    pub to_balance: (i64, i64),
    /// The caller's reference.
    pub reference: String,
    /// The caller's description.
    pub description: String,
    /// The request's idempotency key, if any.
    pub request_id: String,
    /// Redis's time of the change.
    pub time: SystemTime,
    /// The principal of the call that made it; '' for none.
    pub by: String,
}

/// Which entries to list.
#[derive(Clone, Debug)]
pub struct EntriesQuery {
    /// The book.
    pub book: Id<Book>,
    /// Only this account's.
    pub account: Option<Id<Account>>,
    /// At most this many.
    pub page_size: usize,
    /// After this page token.
    pub page_token: Option<String>,
}

fn overflow(account: &Id<Account>, balance: i64) -> Error {
    Error::invalid(
        "amount",
        format!("would take the balance of {account} past 2^53-1 (it is {balance})"),
    )
}
