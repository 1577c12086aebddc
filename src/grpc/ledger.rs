//! `rmw.v1.LedgerService`.

use tonic::{Request, Response, Status};

use super::{deadline_of, ids, reply, timestamp};
use crate::{
    error::Fields,
    ops::{
        Context, EntriesQuery, Entry, EntryKind, Insufficient, Post, PostOutcome, PostingKind,
        Transfer, TransferOutcome,
        types::{self, Id},
    },
    proto::v1::{
        self as pb, credit_response as credit, debit_response as debit, entry,
        ledger_service_server::LedgerService, transfer_response as transfer,
    },
};

/// The longest reference, in characters.
pub const MAX_REFERENCE_CHARS: usize = 128;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 512;

/// The LedgerService handlers.
pub struct Ledger {
    cx: Context,
}

impl Ledger {
    /// Handlers over `cx`.
    #[must_use]
    pub fn new(cx: Context) -> Self {
        Self { cx }
    }
}

/// The fields Credit and Debit share.
struct PostFields<'a> {
    book: &'a str,
    account: &'a str,
    amount: i64,
    reference: &'a str,
    description: &'a str,
    request_id: &'a str,
}

fn post(kind: PostingKind, fields: &PostFields<'_>) -> Result<Post, crate::error::Error> {
    let mut f = Fields::new();
    let book = f.take("book", Id::parse(fields.book));
    let account = f.take("account", Id::parse(fields.account));
    let amount = f.take("amount", types::quantity(fields.amount, 1));
    let reference = f.take(
        "reference",
        types::text(fields.reference, MAX_REFERENCE_CHARS),
    );
    let description = f.take(
        "description",
        types::text(fields.description, MAX_DESCRIPTION_CHARS),
    );
    let request_id = f.take("request_id", Id::parse_optional(fields.request_id));
    f.finish(|| {
        Some(Post {
            kind,
            book: book?,
            account: account?,
            amount: amount?,
            reference: reference?,
            description: description?,
            request_id: request_id?,
        })
    })
}

/// A posting, or the funds that were short for it.
fn posting(outcome: PostOutcome) -> Result<pb::Posting, pb::InsufficientFunds> {
    match outcome {
        PostOutcome::Posted {
            before,
            after,
            entry_id,
        } => Ok(pb::Posting {
            balance_before: before,
            balance_after: after,
            entry_id,
        }),
        PostOutcome::Insufficient(short) => Err(insufficient(short)),
    }
}

fn insufficient(short: Insufficient) -> pb::InsufficientFunds {
    pb::InsufficientFunds {
        account: short.account,
        balance: short.balance,
        requested: short.requested,
    }
}

#[tonic::async_trait]
impl LedgerService for Ledger {
    async fn credit(
        &self,
        request: Request<pb::CreditRequest>,
    ) -> Result<Response<pb::CreditResponse>, Status> {
        let deadline = deadline_of(&request);
        let r = request.get_ref();
        let request = post(
            PostingKind::Credit,
            &PostFields {
                book: &r.book,
                account: &r.account,
                amount: r.amount,
                reference: &r.reference,
                description: &r.description,
                request_id: &r.request_id,
            },
        )?;
        let replied = self.cx.post(&request, deadline).await?;
        let outcome = match posting(replied.outcome) {
            Ok(posting) => credit::Outcome::Posted(posting),
            Err(_) => {
                return Err(
                    crate::error::Error::internal("ledger_post", "a credit was short").into(),
                );
            }
        };
        Ok(reply(pb::CreditResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }

    async fn debit(
        &self,
        request: Request<pb::DebitRequest>,
    ) -> Result<Response<pb::DebitResponse>, Status> {
        let deadline = deadline_of(&request);
        let r = request.get_ref();
        let request = post(
            PostingKind::Debit,
            &PostFields {
                book: &r.book,
                account: &r.account,
                amount: r.amount,
                reference: &r.reference,
                description: &r.description,
                request_id: &r.request_id,
            },
        )?;
        let replied = self.cx.post(&request, deadline).await?;
        let outcome = posting(replied.outcome)
            .map_or_else(debit::Outcome::InsufficientFunds, debit::Outcome::Posted);
        Ok(reply(pb::DebitResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }

    async fn transfer(
        &self,
        request: Request<pb::TransferRequest>,
    ) -> Result<Response<pb::TransferResponse>, Status> {
        let deadline = deadline_of(&request);
        let r = request.into_inner();
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&r.book));
        let from = f.take("from_account", Id::parse(&r.from_account));
        let to = f.take("to_account", Id::parse(&r.to_account));
        if from.is_some() && from == to {
            f.violate("to_account", "must differ from from_account");
        }
        let amount = f.take("amount", types::quantity(r.amount, 1));
        let transfer_id = f.take("transfer_id", Id::parse(&r.transfer_id));
        let reference = f.take("reference", types::text(&r.reference, MAX_REFERENCE_CHARS));
        let description = f.take(
            "description",
            types::text(&r.description, MAX_DESCRIPTION_CHARS),
        );
        let request = f.finish(|| {
            Some(Transfer {
                book: book?,
                from: from?,
                to: to?,
                amount: amount?,
                transfer_id: transfer_id?,
                reference: reference?,
                description: description?,
            })
        })?;
        let replied = self.cx.transfer(&request, deadline).await?;
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
        Ok(reply(pb::TransferResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }

    async fn get_balances(
        &self,
        request: Request<pb::GetBalancesRequest>,
    ) -> Result<Response<pb::GetBalancesResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&request.book));
        let accounts = ids(
            &mut f,
            "accounts",
            &request.accounts,
            self.cx.limits.max_items,
        );
        let (book, accounts) = f.finish(|| Some((book?, accounts?)))?;
        let balances = self.cx.balances(&book, &accounts, deadline).await?;
        Ok(reply(pb::GetBalancesResponse {
            balances: accounts
                .into_iter()
                .zip(balances)
                .map(|(account, balance)| pb::Balance {
                    account: account.to_string(),
                    balance,
                })
                .collect(),
        }))
    }

    async fn list_entries(
        &self,
        request: Request<pb::ListEntriesRequest>,
    ) -> Result<Response<pb::ListEntriesResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&request.book));
        let account = f.take("account", Id::parse_optional(&request.account));
        let page_size = f.take("page_size", types::page_size(request.page_size));
        let page_token = f.take("page_token", types::page_token(&request.page_token));
        let query = f.finish(|| {
            Some(EntriesQuery {
                book: book?,
                account: account?,
                page_size: page_size?,
                page_token: page_token?,
            })
        })?;
        let page = self.cx.entries(&query, deadline).await?;
        Ok(reply(pb::ListEntriesResponse {
            entries: page.items.into_iter().map(entry).collect(),
            next_page_token: page.next_token.unwrap_or_default(),
        }))
    }
}

fn entry(e: Entry) -> pb::Entry {
    let kind = match e.kind {
        EntryKind::Credit => entry::Kind::Credit,
        EntryKind::Debit => entry::Kind::Debit,
        EntryKind::Transfer => entry::Kind::Transfer,
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
    }
}
