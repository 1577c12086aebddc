//! Credits, debits and transfers, each with its audit entries.

use super::{
    BOOK_KEYS, BOOK_SETTINGS, Credit, Debit, DebitOutcome, Insufficient, Posted, Posting, Transfer,
    TransferOutcome, book_call, overflow,
};
use crate::{
    error::Error,
    ops::{
        Context,
        binding::{Layout, Operation, Record},
        types::Id,
    },
    redis::{Call, Reply, Script},
};

/// The positions `ledger_post` takes, for credits and debits alike.
const POST: Layout = Layout::write(
    &[
        BOOK_KEYS[0],
        BOOK_KEYS[1],
        BOOK_KEYS[2],
        BOOK_KEYS[3],
        BOOK_KEYS[4],
        "the account's entries",
    ],
    &[
        BOOK_SETTINGS[0],
        BOOK_SETTINGS[1],
        BOOK_SETTINGS[2],
        "'credit' or 'debit'",
        "the account",
        "the amount",
        "reference",
        "description",
        "the request id",
    ],
);

impl Posting {
    fn record(&self, cx: &Context) -> Record {
        Record::tagged(&cx.keys, &self.book, self.request_id.as_ref())
    }

    fn build(&self, kind: &str, cx: &Context, call: Call) -> Call {
        book_call(cx, &self.book, call)
            .key(cx.keys.account_entries(&self.book, &self.account))
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
    const LAYOUT: Layout = Layout::write(
        &[
            BOOK_KEYS[0],
            BOOK_KEYS[1],
            BOOK_KEYS[2],
            BOOK_KEYS[3],
            BOOK_KEYS[4],
            "the source account's entries",
            "the target account's entries",
        ],
        &[
            BOOK_SETTINGS[0],
            BOOK_SETTINGS[1],
            BOOK_SETTINGS[2],
            "the source account",
            "the target account",
            "the amount",
            "reference",
            "description",
            "the transfer id",
        ],
    );
    type Outcome = TransferOutcome;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(
            &cx.keys,
            &self.book,
            Some(&self.transfer_id),
        ))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        book_call(cx, &self.book, call)
            .key(cx.keys.account_entries(&self.book, &self.from))
            .key(cx.keys.account_entries(&self.book, &self.to))
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
