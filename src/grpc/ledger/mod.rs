//! `rmw.v1.LedgerService`: postings, transfers and reads here, pending
//! transfers in `holds`.

mod holds;

use super::{Fields, Rpc, ids, serve, timestamp};
use crate::{
    error::Error,
    ops::{
        Balance, Credit, Debit, DebitOutcome, EntriesQuery, Entry, EntryKind, GetBalances,
        Insufficient, Limits, Page, Posted, Posting, Replied, Transfer, TransferOutcome,
        limits::{MAX_DESCRIPTION_CHARS, MAX_REFERENCE_CHARS},
        types::{self, Amount, Id},
    },
    proto::v1::{
        self as pb, credit_response as credit, debit_response as debit, entry,
        ledger_service_server::LedgerService, transfer_response as transfer,
    },
};

serve! {
  LedgerService {
    credit(CreditRequest);
    debit(DebitRequest);
    transfer(TransferRequest);
    get_balances(GetBalancesRequest);
    list_entries(ListEntriesRequest);
    hold_funds(HoldFundsRequest);
    post_hold(PostHoldRequest);
    void_hold(VoidHoldRequest);
    get_funds_hold(GetFundsHoldRequest);
  }
  streams {
    watch_entries(WatchEntriesRequest) -> WatchEntriesStream;
  }
}

/// Credit and Debit take the same fields.
fn posting(
    book: &str,
    account: &str,
    amount: i64,
    reference: &str,
    description: &str,
    request_id: &str,
) -> Result<Posting, Error> {
    let mut f = Fields::new();
    let book = f.take("book", Id::parse(book));
    let account = f.take("account", Id::parse(account));
    let amount = f.take("amount", Amount::parse(amount));
    let reference = f.take("reference", types::text(reference, MAX_REFERENCE_CHARS));
    let description = f.take(
        "description",
        types::text(description, MAX_DESCRIPTION_CHARS),
    );
    let request_id = f.take("request_id", Id::parse_optional(request_id));
    f.finish(|| {
        Some(Posting {
            book: book?,
            account: account?,
            amount: amount?,
            reference: reference?,
            description: description?,
            request_id: request_id?,
        })
    })
}

fn posted(posted: Posted) -> pb::Posting {
    pb::Posting {
        balance_before: posted.before,
        balance_after: posted.after,
        entry_id: posted.entry_id,
    }
}

fn insufficient(short: Insufficient) -> pb::InsufficientFunds {
    pb::InsufficientFunds {
        account: short.account,
        balance: short.balance,
        requested: short.requested,
    }
}

impl Rpc for pb::CreditRequest {
    type Op = Credit;
    type Reply = pb::CreditResponse;

    fn parse(self, _limits: &Limits) -> Result<Credit, Error> {
        let r = &self;
        posting(
            &r.book,
            &r.account,
            r.amount,
            &r.reference,
            &r.description,
            &r.request_id,
        )
        .map(Credit)
    }

    fn reply(replied: Replied<Posted>) -> pb::CreditResponse {
        pb::CreditResponse {
            replayed: replied.replayed,
            outcome: Some(credit::Outcome::Posted(posted(replied.outcome))),
        }
    }
}

impl Rpc for pb::DebitRequest {
    type Op = Debit;
    type Reply = pb::DebitResponse;

    fn parse(self, _limits: &Limits) -> Result<Debit, Error> {
        let r = &self;
        posting(
            &r.book,
            &r.account,
            r.amount,
            &r.reference,
            &r.description,
            &r.request_id,
        )
        .map(Debit)
    }

    fn reply(replied: Replied<DebitOutcome>) -> pb::DebitResponse {
        let outcome = match replied.outcome {
            DebitOutcome::Posted(p) => debit::Outcome::Posted(posted(p)),
            DebitOutcome::Insufficient(short) => {
                debit::Outcome::InsufficientFunds(insufficient(short))
            }
        };
        pb::DebitResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::TransferRequest {
    type Op = Transfer;
    type Reply = pb::TransferResponse;

    fn parse(self, _limits: &Limits) -> Result<Transfer, Error> {
        let r = self;
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&r.book));
        let from = f.take("from_account", Id::parse(&r.from_account));
        let to = f.take("to_account", Id::parse(&r.to_account));
        if from.is_some() && from == to {
            f.violate("to_account", "must differ from from_account");
        }
        let amount = f.take("amount", Amount::parse(r.amount));
        let transfer_id = f.take("transfer_id", Id::parse(&r.transfer_id));
        let reference = f.take("reference", types::text(&r.reference, MAX_REFERENCE_CHARS));
        let description = f.take(
            "description",
            types::text(&r.description, MAX_DESCRIPTION_CHARS),
        );
        f.finish(|| {
            Some(Transfer {
                book: book?,
                from: from?,
                to: to?,
                amount: amount?,
                transfer_id: transfer_id?,
                reference: reference?,
                description: description?,
            })
        })
    }

    fn reply(replied: Replied<TransferOutcome>) -> pb::TransferResponse {
        let outcome = match replied.outcome {
            TransferOutcome::Transferred {
                from_balance,
                to_balance,
                entry_id,
            } => transfer::Outcome::Transferred(transfer::Transferred {
                from_balance,
                to_balance,
                entry_id,
            }),
            TransferOutcome::Insufficient(short) => {
                transfer::Outcome::InsufficientFunds(insufficient(short))
            }
        };
        pb::TransferResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::GetBalancesRequest {
    type Op = GetBalances;
    type Reply = pb::GetBalancesResponse;

    fn parse(self, limits: &Limits) -> Result<GetBalances, Error> {
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&self.book));
        let accounts = ids(&mut f, "accounts", &self.accounts, limits.max_items);
        f.finish(|| {
            Some(GetBalances {
                book: book?,
                accounts: accounts?,
            })
        })
    }

    fn reply(replied: Replied<Vec<Balance>>) -> pb::GetBalancesResponse {
        pb::GetBalancesResponse {
            balances: replied
                .outcome
                .into_iter()
                .map(|b| pb::Balance {
                    available: b.available(),
                    account: b.account,
                    balance: b.posted,
                    pending_debits: b.pending_debits,
                    pending_credits: b.pending_credits,
                })
                .collect(),
        }
    }
}

impl Rpc for pb::ListEntriesRequest {
    type Op = EntriesQuery;
    type Reply = pb::ListEntriesResponse;

    fn parse(self, _limits: &Limits) -> Result<EntriesQuery, Error> {
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&self.book));
        let account = f.take("account", Id::parse_optional(&self.account));
        let page_size = f.take("page_size", types::page_size(self.page_size));
        let page_token = f.take("page_token", types::page_token(&self.page_token));
        f.finish(|| {
            Some(EntriesQuery {
                book: book?,
                account: account?,
                page_size: page_size?,
                page_token: page_token?,
            })
        })
    }

    fn reply(replied: Replied<Page<Entry>>) -> pb::ListEntriesResponse {
        let page = replied.outcome;
        pb::ListEntriesResponse {
            entries: page.items.into_iter().map(entry).collect(),
            next_page_token: page.next_token.unwrap_or_default(),
        }
    }
}

pub(super) fn entry(e: Entry) -> pb::Entry {
    let kind = match e.kind {
        EntryKind::Credit => entry::Kind::Credit,
        EntryKind::Debit => entry::Kind::Debit,
        EntryKind::Transfer => entry::Kind::Transfer,
        EntryKind::Hold => entry::Kind::Hold,
        EntryKind::Post => entry::Kind::Post,
        EntryKind::Void => entry::Kind::Void,
        EntryKind::Expire => entry::Kind::Expire,
    };
    pb::Entry {
        id: e.id,
        kind: kind.into(),
        from_account: e.from,
        to_account: e.to,
        amount: e.amount,
        from_balance_before: e.from_balance.0,
        from_balance_after: e.from_balance.1,
        to_balance_before: e.to_balance.0,
        to_balance_after: e.to_balance.1,
        reference: e.reference,
        description: e.description,
        request_id: e.request_id,
        time: Some(timestamp(e.time)),
        principal: e.by,
    }
}
