//! Integer money: balances, transfers, and the audit trail.

use std::time::SystemTime;

use super::{Context, Replied, streams::Page, types::Id};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Script},
};

/// A credit or a debit of one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostingKind {
    /// Money in.
    Credit,
    /// Money out.
    Debit,
}

/// A credit or debit request.
#[derive(Clone, Debug)]
pub struct Post {
    /// Credit or debit.
    pub kind: PostingKind,
    /// The book.
    pub book: Id,
    /// The account.
    pub account: Id,
    /// Minor units, 1 to 2^53−1.
    pub amount: i64,
    /// The caller's reference.
    pub reference: String,
    /// The caller's description.
    pub description: String,
    /// The idempotency key.
    pub request_id: Option<Id>,
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
    pub amount: i64,
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

/// What a credit or debit did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostOutcome {
    /// Posted.
    Posted {
        /// The balance before.
        before: i64,
        /// The balance after.
        after: i64,
        /// The entry's id.
        entry_id: String,
    },
    /// A debit past zero; nothing changed.
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

impl Context {
    /// Credits or debits one account.
    pub async fn post(
        &self,
        request: &Post,
        deadline: Deadline,
    ) -> Result<Replied<PostOutcome>, Error> {
        let record =
            self.keys
                .tagged_idempotency("led", &request.book, request.request_id.as_ref());
        let kind = match request.kind {
            PostingKind::Credit => "credit",
            PostingKind::Debit => "debit",
        };
        let call = Call::write(
            Script::LedgerPost,
            record,
            request.request_id.is_some(),
            self.idempotency_ttl,
        )
        .key(self.keys.balances(&request.book))
        .key(self.keys.entries(&request.book))
        .key(self.keys.account_entries(&request.book, &request.account))
        .setting(self.stream_max_len)
        .arg(kind)
        .arg(request.account.as_str())
        .arg(request.amount)
        .arg(request.reference.as_str())
        .arg(request.description.as_str())
        .arg(request.request_id.as_ref().map_or("", Id::as_str));
        let reply = self.redis.eval(&call, deadline).await?;
        let outcome = match reply.tag()? {
            "posted" => PostOutcome::Posted {
                before: reply.int(1)?,
                after: reply.int(2)?,
                entry_id: reply.text(3)?,
            },
            "insufficient" => PostOutcome::Insufficient(Insufficient {
                account: request.account.to_string(),
                balance: reply.int(1)?,
                requested: reply.int(2)?,
            }),
            "overflow" => return Err(overflow(&request.account, reply.int(1)?)),
            _ => return Err(reply.unexpected()),
        };
        Ok(Replied {
            outcome,
            replayed: reply.replayed,
        })
    }

    /// Moves money between two accounts of a book.
    pub async fn transfer(
        &self,
        request: &Transfer,
        deadline: Deadline,
    ) -> Result<Replied<TransferOutcome>, Error> {
        let record = self
            .keys
            .tagged_idempotency("led", &request.book, Some(&request.transfer_id));
        let call = Call::write(Script::LedgerTransfer, record, true, self.idempotency_ttl)
            .key(self.keys.balances(&request.book))
            .key(self.keys.entries(&request.book))
            .key(self.keys.account_entries(&request.book, &request.from))
            .key(self.keys.account_entries(&request.book, &request.to))
            .setting(self.stream_max_len)
            .arg(request.from.as_str())
            .arg(request.to.as_str())
            .arg(request.amount)
            .arg(request.reference.as_str())
            .arg(request.description.as_str())
            .arg(request.transfer_id.as_str());
        let reply = self.redis.eval(&call, deadline).await?;
        let outcome = match reply.tag()? {
            "transferred" => TransferOutcome::Transferred {
                from_balance: reply.int(1)?,
                to_balance: reply.int(2)?,
                entry_id: reply.text(3)?,
            },
            "insufficient" => TransferOutcome::Insufficient(Insufficient {
                account: request.from.to_string(),
                balance: reply.int(1)?,
                requested: reply.int(2)?,
            }),
            "overflow" => return Err(overflow(&request.to, reply.int(1)?)),
            _ => return Err(reply.unexpected()),
        };
        Ok(Replied {
            outcome,
            replayed: reply.replayed,
        })
    }

    /// Reads balances, in the order asked.
    pub async fn balances(
        &self,
        book: &Id,
        accounts: &[Id],
        deadline: Deadline,
    ) -> Result<Vec<i64>, Error> {
        let mut call = Call::read(Script::LedgerGetBalances).key(self.keys.balances(book));
        for account in accounts {
            call = call.arg(account.as_str());
        }
        let reply = self.redis.eval(&call, deadline).await?;
        if reply.tag()? != "balances" || reply.len() != accounts.len() + 1 {
            return Err(reply.unexpected());
        }
        (1..reply.len()).map(|i| reply.int(i)).collect()
    }

    /// Lists entries, newest first.
    pub async fn entries(
        &self,
        query: &EntriesQuery,
        deadline: Deadline,
    ) -> Result<Page<Entry>, Error> {
        let stream = match &query.account {
            Some(account) => self.keys.account_entries(&query.book, account),
            None => self.keys.entries(&query.book),
        };
        let filtered = query.account.is_some();
        self.page(
            stream,
            query.page_token.as_deref(),
            query.page_size,
            deadline,
            |entry| {
                let kind = match entry.text("k")?.as_str() {
                    "credit" => EntryKind::Credit,
                    "debit" => EntryKind::Debit,
                    "transfer" => EntryKind::Transfer,
                    _ => return Err(Error::internal("streams_page", "unknown entry kind")),
                };
                Ok(Entry {
                    id: entry.main_id(filtered)?,
                    kind,
                    from: entry.text("f")?,
                    to: entry.text("t")?,
                    amount: entry.int("m")?,
                    from_balance: (entry.int("fb")?, entry.int("fa")?),
                    to_balance: (entry.int("tb")?, entry.int("ta")?),
                    reference: entry.text("r")?,
                    description: entry.text("s")?,
                    request_id: entry.text("q")?,
                    time: entry.time()?,
                })
            },
        )
        .await
    }
}

fn overflow(account: &Id, balance: i64) -> Error {
    Error::invalid(
        "amount",
        format!("would take the balance of {account} past 2^53-1 (it is {balance})"),
    )
}
