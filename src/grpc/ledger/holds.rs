//! LedgerService's pending transfers.

use std::time::SystemTime;

use super::insufficient;
use crate::{
    error::Error,
    grpc::{Fields, Rpc, hold_ttl, leases::fence, timestamp},
    ops::{
        FundsEnding, FundsHold, FundsHoldOutcome, FundsHoldState, FundsPosted, GetFundsHold,
        HoldFunds, Limits, PostHold, Replied, VoidHold,
        limits::{MAX_DESCRIPTION_CHARS, MAX_REFERENCE_CHARS},
        types::{self, Amount, Id},
    },
    proto::v1::{
        self as pb, get_funds_hold_response as get, hold_funds_response as hold,
        post_hold_response as post, void_hold_response as void,
    },
};

impl Rpc for pb::HoldFundsRequest {
    type Op = HoldFunds;
    type Reply = pb::HoldFundsResponse;

    fn parse(self, limits: &Limits) -> Result<HoldFunds, Error> {
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&self.book));
        let hold_id = f.take("hold_id", Id::parse(&self.hold_id));
        let from = f.take("from_account", Id::parse(&self.from_account));
        let to = f.take("to_account", Id::parse(&self.to_account));
        if !self.from_account.is_empty() && self.from_account == self.to_account {
            f.violate("to_account", "must differ from from_account");
        }
        let amount = f.take("amount", Amount::parse(self.amount));
        let ttl = f.take("ttl", hold_ttl(self.ttl.as_ref(), limits));
        let reference = f.take(
            "reference",
            types::text(&self.reference, MAX_REFERENCE_CHARS),
        );
        let description = f.take(
            "description",
            types::text(&self.description, MAX_DESCRIPTION_CHARS),
        );
        let fence = fence(&mut f, self.fence, limits);
        f.finish(|| {
            Some(HoldFunds {
                book: book?,
                hold_id: hold_id?,
                from: from?,
                to: to?,
                amount: amount?,
                ttl: ttl?,
                reference: reference?,
                description: description?,
                fence,
            })
        })
    }

    fn reply(replied: Replied<FundsHoldOutcome>) -> pb::HoldFundsResponse {
        let outcome = match replied.outcome {
            FundsHoldOutcome::Held {
                expires_at,
                available,
                entry_id,
            } => hold::Outcome::Held(hold::Held {
                expires_at: Some(timestamp(expires_at)),
                available,
                entry_id,
            }),
            FundsHoldOutcome::Insufficient(short) => {
                hold::Outcome::InsufficientFunds(insufficient(short))
            }
            FundsHoldOutcome::Fenced(current_token) => {
                hold::Outcome::Fenced(pb::Fenced { current_token })
            }
        };
        pb::HoldFundsResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::PostHoldRequest {
    type Op = PostHold;
    type Reply = pb::PostHoldResponse;

    fn parse(self, limits: &Limits) -> Result<PostHold, Error> {
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&self.book));
        let hold_id = f.take("hold_id", Id::parse(&self.hold_id));
        let amount = if self.amount == 0 {
            Some(None)
        } else {
            f.take("amount", Amount::parse(self.amount)).map(Some)
        };
        let reference = f.take(
            "reference",
            types::text(&self.reference, MAX_REFERENCE_CHARS),
        );
        let description = f.take(
            "description",
            types::text(&self.description, MAX_DESCRIPTION_CHARS),
        );
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        let fence = fence(&mut f, self.fence, limits);
        f.finish(|| {
            Some(PostHold {
                book: book?,
                hold_id: hold_id?,
                amount: amount?,
                reference: reference?,
                description: description?,
                request_id: request_id?,
                fence,
            })
        })
    }

    fn reply(replied: Replied<FundsEnding<FundsPosted>>) -> pb::PostHoldResponse {
        let outcome = match replied.outcome {
            FundsEnding::Done(done) => post::Outcome::Posted(post::Posted {
                amount: done.amount,
                released: done.released,
                from_balance: done.from_balance,
                to_balance: done.to_balance,
                entry_id: done.entry_id,
            }),
            FundsEnding::NotFound => post::Outcome::NotFound(pb::HoldNotFound {}),
            FundsEnding::AlreadyPosted => {
                post::Outcome::AlreadyPosted(pb::FundsHoldAlreadyPosted {})
            }
            FundsEnding::AlreadyVoided => {
                post::Outcome::AlreadyVoided(pb::FundsHoldAlreadyVoided {})
            }
            FundsEnding::Expired(at) => post::Outcome::Expired(expired(at)),
            FundsEnding::Fenced(current_token) => {
                post::Outcome::Fenced(pb::Fenced { current_token })
            }
        };
        pb::PostHoldResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::VoidHoldRequest {
    type Op = VoidHold;
    type Reply = pb::VoidHoldResponse;

    fn parse(self, limits: &Limits) -> Result<VoidHold, Error> {
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&self.book));
        let hold_id = f.take("hold_id", Id::parse(&self.hold_id));
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        let fence = fence(&mut f, self.fence, limits);
        f.finish(|| {
            Some(VoidHold {
                book: book?,
                hold_id: hold_id?,
                request_id: request_id?,
                fence,
            })
        })
    }

    fn reply(replied: Replied<FundsEnding<(i64, String)>>) -> pb::VoidHoldResponse {
        let outcome = match replied.outcome {
            FundsEnding::Done((amount, entry_id)) => {
                void::Outcome::Voided(void::Voided { amount, entry_id })
            }
            FundsEnding::NotFound => void::Outcome::NotFound(pb::HoldNotFound {}),
            FundsEnding::AlreadyPosted => {
                void::Outcome::AlreadyPosted(pb::FundsHoldAlreadyPosted {})
            }
            FundsEnding::AlreadyVoided => {
                void::Outcome::AlreadyVoided(pb::FundsHoldAlreadyVoided {})
            }
            FundsEnding::Expired(at) => void::Outcome::Expired(expired(at)),
            FundsEnding::Fenced(current_token) => {
                void::Outcome::Fenced(pb::Fenced { current_token })
            }
        };
        pb::VoidHoldResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::GetFundsHoldRequest {
    type Op = GetFundsHold;
    type Reply = pb::GetFundsHoldResponse;

    fn parse(self, _limits: &Limits) -> Result<GetFundsHold, Error> {
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&self.book));
        let hold_id = f.take("hold_id", Id::parse(&self.hold_id));
        f.finish(|| {
            Some(GetFundsHold {
                book: book?,
                hold_id: hold_id?,
            })
        })
    }

    fn reply(replied: Replied<Option<FundsHold>>) -> pb::GetFundsHoldResponse {
        let outcome = match replied.outcome {
            Some(hold) => get::Outcome::Hold(funds_hold(hold)),
            None => get::Outcome::NotFound(pb::HoldNotFound {}),
        };
        pb::GetFundsHoldResponse {
            outcome: Some(outcome),
        }
    }
}

fn expired(at: SystemTime) -> pb::HoldExpired {
    pb::HoldExpired {
        expired_at: Some(timestamp(at)),
    }
}

fn funds_hold(hold: FundsHold) -> pb::FundsHold {
    let state = match hold.state {
        FundsHoldState::Held => pb::FundsHoldState::Held,
        FundsHoldState::Posted => pb::FundsHoldState::Posted,
        FundsHoldState::Voided => pb::FundsHoldState::Voided,
        FundsHoldState::Expired => pb::FundsHoldState::Expired,
    };
    pb::FundsHold {
        hold_id: hold.hold_id,
        state: state.into(),
        expires_at: Some(timestamp(hold.expires_at)),
        ended_at: hold.ended_at.map(timestamp),
        from_account: hold.from,
        to_account: hold.to,
        amount: hold.amount,
        posted: hold.posted,
    }
}
