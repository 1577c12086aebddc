//! Integer money: balances, transfers, and the audit trail.

use std::time::SystemTime;

use super::{
    Context, Replied,
    binding::{Execute, Layout, Operation, Record},
    streams::Page,
    types::{Amount, Id},
};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Reply, Script, field},
};

/// A credit or debit of one account: what [`Credit`] and [`Debit`] take.
#[derive(Clone, Debug)]
pub struct Posting {
    /// The book.
    pub book: Id,
    /// The account.
    pub account: Id,
    /// Minor units, 1 to 2^53−1.
    pub amount: Amount,
    /// The caller's reference.
    pub reference: String,
    /// The caller's description.
    pub description: String,
    /// The idempotency key.
    pub request_id: Option<Id>,
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
    pub book: Id,
    /// The accounts, in the order their balances are wanted.
    pub accounts: Vec<Id>,
}

/// A transfer request.
#[derive(Clone, Debug)]
pub struct Transfer {
    /// The book.
    pub book: Id,
    /// The source account.
    pub from: Id,
    /// The target account.
    pub to: Id,
    /// Minor units, 1 to 2^53−1.
    pub amount: Amount,
    /// The transfer's id and idempotency key.
    pub transfer_id: Id,
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
    pub book: Id,
    /// Only this account's.
    pub account: Option<Id>,
    /// At most this many.
    pub page_size: usize,
    /// After this page token.
    pub page_token: Option<String>,
}

/// The positions `ledger_post` takes, for credits and debits alike.
const POST: Layout = Layout {
    writes: true,
    keys: &["balances", "the book's entries", "the account's entries"],
    key_lists: &[],
    argv: &[
        "maxlen",
        "'credit' or 'debit'",
        "the account",
        "the amount",
        "reference",
        "description",
        "the request id",
    ],
    argv_lists: &[],
};

impl Posting {
    fn record(&self, cx: &Context) -> Record {
        Record::tagged(&cx.keys, "led", &self.book, self.request_id.as_ref())
    }

    fn build(&self, kind: &str, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.balances(&self.book))
            .key(cx.keys.entries(&self.book))
            .key(cx.keys.account_entries(&self.book, &self.account))
            .setting(cx.stream_max_len)
            .arg(kind)
            .arg(self.account.as_str())
            .arg(self.amount.get())
            .arg(self.reference.as_str())
            .arg(self.description.as_str())
            .arg(self.request_id.as_ref().map_or("", Id::as_str))
    }
}

fn posted(reply: &Reply) -> Result<Posted, Error> {
    Ok(Posted {
        before: reply.int(1)?,
        after: reply.int(2)?,
        entry_id: reply.text(3)?,
    })
}

impl Operation for Credit {
    const SCRIPT: Script = Script::LedgerPost;
    const LAYOUT: Layout = POST;
    type Outcome = Posted;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(self.0.record(cx))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        self.0.build("credit", cx, call)
    }

    fn decode(&self, reply: &Reply) -> Result<Posted, Error> {
        match reply.tag()? {
            "posted" => posted(reply),
            "overflow" => Err(overflow(&self.0.account, reply.int(1)?)),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for Debit {
    const SCRIPT: Script = Script::LedgerPost;
    const LAYOUT: Layout = POST;
    type Outcome = DebitOutcome;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(self.0.record(cx))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        self.0.build("debit", cx, call)
    }

    fn decode(&self, reply: &Reply) -> Result<DebitOutcome, Error> {
        match reply.tag()? {
            "posted" => Ok(DebitOutcome::Posted(posted(reply)?)),
            "insufficient" => Ok(DebitOutcome::Insufficient(Insufficient {
                account: self.0.account.to_string(),
                balance: reply.int(1)?,
                requested: reply.int(2)?,
            })),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for Transfer {
    const SCRIPT: Script = Script::LedgerTransfer;
    const LAYOUT: Layout = Layout {
        writes: true,
        keys: &[
            "balances",
            "the book's entries",
            "the source account's entries",
            "the target account's entries",
        ],
        key_lists: &[],
        argv: &[
            "maxlen",
            "the source account",
            "the target account",
            "the amount",
            "reference",
            "description",
            "the transfer id",
        ],
        argv_lists: &[],
    };
    type Outcome = TransferOutcome;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(
            &cx.keys,
            "led",
            &self.book,
            Some(&self.transfer_id),
        ))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.balances(&self.book))
            .key(cx.keys.entries(&self.book))
            .key(cx.keys.account_entries(&self.book, &self.from))
            .key(cx.keys.account_entries(&self.book, &self.to))
            .setting(cx.stream_max_len)
            .arg(self.from.as_str())
            .arg(self.to.as_str())
            .arg(self.amount.get())
            .arg(self.reference.as_str())
            .arg(self.description.as_str())
            .arg(self.transfer_id.as_str())
    }

    fn decode(&self, reply: &Reply) -> Result<TransferOutcome, Error> {
        match reply.tag()? {
            "transferred" => Ok(TransferOutcome::Transferred {
                from_balance: reply.int(1)?,
                to_balance: reply.int(2)?,
                entry_id: reply.text(3)?,
            }),
            "insufficient" => Ok(TransferOutcome::Insufficient(Insufficient {
                account: self.from.to_string(),
                balance: reply.int(1)?,
                requested: reply.int(2)?,
            })),
            "overflow" => Err(overflow(&self.to, reply.int(1)?)),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for GetBalances {
    const SCRIPT: Script = Script::LedgerGetBalances;
    const LAYOUT: Layout = Layout {
        writes: false,
        keys: &["balances"],
        key_lists: &[],
        argv: &[],
        argv_lists: &["1 .. N"],
    };
    /// `(account, balance)`, in the order asked.
    type Outcome = Vec<(Id, i64)>;

    fn record(&self, _cx: &Context) -> Option<Record> {
        None
    }

    fn build(&self, cx: &Context, mut call: Call) -> Call {
        call = call.key(cx.keys.balances(&self.book));
        for account in &self.accounts {
            call = call.arg(account.as_str());
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        if reply.tag()? != "balances" || reply.len() != self.accounts.len() + 1 {
            return Err(reply.unexpected());
        }
        let balances = (1..reply.len()).map(|i| reply.int(i));
        self.accounts
            .iter()
            .cloned()
            .zip(balances)
            .map(|(account, balance)| Ok((account, balance?)))
            .collect()
    }
}

impl Execute for EntriesQuery {
    type Outcome = Page<Entry>;

    /// Lists entries, newest first.
    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<Page<Entry>>, Error> {
        let stream = match &self.account {
            Some(account) => cx.keys.account_entries(&self.book, account),
            None => cx.keys.entries(&self.book),
        };
        let filtered = self.account.is_some();
        let page = cx
            .page(
                stream,
                self.page_token.as_deref(),
                self.page_size,
                deadline,
                |entry| {
                    let kind = match entry.text(field::KIND)?.as_str() {
                        "credit" => EntryKind::Credit,
                        "debit" => EntryKind::Debit,
                        "transfer" => EntryKind::Transfer,
                        _ => return Err(Error::internal("streams_page", "unknown entry kind")),
                    };
                    Ok(Entry {
                        id: entry.main_id(filtered)?,
                        kind,
                        from: entry.text(field::FROM)?,
                        to: entry.text(field::TO)?,
                        amount: entry.int(field::AMOUNT)?,
                        from_balance: (
                            entry.int(field::FROM_BEFORE)?,
                            entry.int(field::FROM_AFTER)?,
                        ),
                        to_balance: (entry.int(field::TO_BEFORE)?, entry.int(field::TO_AFTER)?),
                        reference: entry.text(field::REFERENCE)?,
                        description: entry.text(field::DESCRIPTION)?,
                        request_id: entry.text(field::REQUEST_ID)?,
                        time: entry.time()?,
                    })
                },
            )
            .await?;
        Ok(Replied::fresh(page))
    }
}

fn overflow(account: &Id, balance: i64) -> Error {
    Error::invalid(
        "amount",
        format!("would take the balance of {account} past 2^53-1 (it is {balance})"),
    )
}
