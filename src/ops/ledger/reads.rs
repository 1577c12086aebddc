//! Balances and the audit trail, read.

use super::{EntriesQuery, Entry, EntryKind, GetBalances};
use crate::{
    deadline::Deadline,
    error::Error,
    ops::{
        Context, Page, Replied,
        binding::{Execute, Layout, Operation},
        types::{Id, kind::Account},
    },
    redis::{Call, Reply, Script, field},
};

impl Operation for GetBalances {
    const SCRIPT: Script = Script::LedgerGetBalances;
    const LAYOUT: Layout = Layout::read(&["balances"], &[]).lists(&[], &["1 .. N"]);
    /// `(account, balance)`, in the order asked.
    type Outcome = Vec<(Id<Account>, i64)>;

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
            Some(account) => (cx.keys.account_entries(&self.book, account), true),
            None => (cx.keys.entries(&self.book), false),
        };
        cx.page(
            stream,
            self.page_token.as_deref(),
            self.page_size,
            deadline,
            |entry, id| {
                let kind = match entry.text(field::KIND)?.as_str() {
                    "credit" => EntryKind::Credit,
                    "debit" => EntryKind::Debit,
                    "transfer" => EntryKind::Transfer,
                    _ => return Err(Error::internal("streams_page", "unknown entry kind")),
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
                })
            },
        )
        .await
    }
}
