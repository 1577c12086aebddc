//! Balances and the audit trail, read.

use super::{Balance, EntriesQuery, Entry, EntryKind, GetBalances};
use crate::{
    deadline::Deadline,
    error::Error,
    ops::{
        Context, Page, Replied,
        binding::{Execute, Layout, Operation},
        streams,
    },
    redis::{Call, Reply, Script, field},
};

impl Operation for GetBalances {
    const SCRIPT: Script = Script::LedgerGetBalances;
    const LAYOUT: Layout = Layout::read(
        &[
            "balances",
            "pending debits",
            "pending credits",
            "the book's holds",
        ],
        &["clock skew"],
    )
    .lists(&[], &["2 .. 1+N"]);
    /// The balances, in the order asked.
    type Outcome = Vec<Balance>;

    fn build(&self, cx: &Context, mut call: Call) -> Call {
        call = call
            .key(cx.keys.balances(&self.book))
            .key(cx.keys.pending_debits(&self.book))
            .key(cx.keys.pending_credits(&self.book))
            .key(cx.keys.book_holds(&self.book))
            .setting(cx.clock_skew_secs);
        for account in &self.accounts {
            call = call.arg(account.as_str());
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        if reply.tag()? != "balances" || reply.len() != self.accounts.len() + 1 {
            return Err(reply.unexpected());
        }
        self.accounts
            .iter()
            .enumerate()
            .map(|(i, account)| {
                let level = reply.nested(i + 1)?;
                Ok(Balance {
                    account: account.to_string(),
                    posted: level.int(0)?,
                    pending_debits: level.int(1)?,
                    pending_credits: level.int(2)?,
                })
            })
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
            Some(account) => (cx.keys.account_entries(&self.book, account), true),
            None => (cx.keys.entries(&self.book), false),
        };
        cx.page(
            stream,
            self.page_token.as_deref(),
            self.page_size,
            deadline,
            Entry::read,
        )
        .await
    }
}

impl Entry {
    /// The ledger entry a stream entry records, `id` its id in the book's
    /// journal.
    pub(crate) fn read(entry: &streams::Entry, id: String) -> Result<Self, Error> {
        let kind = match entry.text(field::KIND)?.as_str() {
            "credit" => EntryKind::Credit,
            "debit" => EntryKind::Debit,
            "transfer" => EntryKind::Transfer,
            "hold" => EntryKind::Hold,
            "post" => EntryKind::Post,
            "void" => EntryKind::Void,
            "expire" => EntryKind::Expire,
            _ => return Err(Error::internal("streams", "unknown entry kind")),
        };
        Ok(Entry {
            id,
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
            // Only calls with an identity have one.
            by: entry.text_or_empty(field::BY)?,
        })
    }
}
