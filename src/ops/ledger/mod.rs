//! Integer money: balances, transfers, and the audit trail.
//!
//! The requests and outcomes are here; their bindings in `postings`
//! (credits, debits, transfers) and `reads` (balances, entries).

mod postings;
mod reads;

use std::time::SystemTime;

use super::types::{
    Amount, Id, RequestId,
    kind::{self, Account, Book},
};
use crate::error::Error;

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
    /// Its balance.
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
