//! InventoryService's holds.

use super::{change, items, level, shortfall};
use crate::{
    error::Error,
    grpc::{Fields, Rpc, hold_ttl, leases::fence, timestamp},
    ops::{
        CommitHold, Committed, Ending, GetHold, HoldOutcome, HoldState, HoldStock, HoldView,
        HoldsQuery, Limits, Page, ReleaseHold, Replied,
        types::{self, Id},
    },
    proto::v1::{
        self as pb, commit_hold_response as commit, get_hold_response as get,
        hold_stock_response as hold, release_hold_response as release,
    },
};

impl Rpc for pb::HoldStockRequest {
    type Op = HoldStock;
    type Reply = pb::HoldStockResponse;

    fn parse(self, limits: &Limits) -> Result<HoldStock, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let hold_id = f.take("hold_id", Id::parse(&self.hold_id));
        let list = self.items.iter().map(|i| (i.product.as_str(), i.quantity));
        let items = items(&mut f, "items", list, 1, limits.max_items);
        let ttl = f.take("ttl", hold_ttl(self.ttl.as_ref(), limits));
        let fence = fence(&mut f, self.fence, limits);
        f.finish(|| {
            Some(HoldStock {
                store: store?,
                hold_id: hold_id?,
                items: items?,
                ttl: ttl?,
                fence,
            })
        })
    }

    fn reply(replied: Replied<HoldOutcome>) -> pb::HoldStockResponse {
        let outcome = match replied.outcome {
            HoldOutcome::Held(held) => hold::Outcome::Held(hold::Held {
                expires_at: Some(timestamp(held.expires_at)),
                levels: held.levels.into_iter().map(level).collect(),
            }),
            HoldOutcome::Insufficient(short) => hold::Outcome::InsufficientStock(shortfall(short)),
            HoldOutcome::Fenced(current_token) => {
                hold::Outcome::Fenced(pb::Fenced { current_token })
            }
        };
        pb::HoldStockResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::CommitHoldRequest {
    type Op = CommitHold;
    type Reply = pb::CommitHoldResponse;

    fn parse(self, limits: &Limits) -> Result<CommitHold, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let hold_id = f.take("hold_id", Id::parse(&self.hold_id));
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        let listed = if self.items.is_empty() {
            Some(None)
        } else {
            let list = self.items.iter().map(|i| (i.product.as_str(), i.quantity));
            items(&mut f, "items", list, 1, limits.max_items).map(Some)
        };
        let fence = fence(&mut f, self.fence, limits);
        f.finish(|| {
            Some(CommitHold {
                store: store?,
                hold_id: hold_id?,
                items: listed?,
                request_id: request_id?,
                fence,
            })
        })
    }

    fn reply(replied: Replied<Ending<Committed>>) -> pb::CommitHoldResponse {
        let outcome = match replied.outcome {
            Ending::Done(done) => commit::Outcome::Committed(commit::Committed {
                changes: done.changes.into_iter().map(change).collect(),
                released: done
                    .released
                    .into_iter()
                    .map(|(product, quantity)| pb::OrderItem { product, quantity })
                    .collect(),
            }),
            Ending::NotFound => commit::Outcome::NotFound(pb::HoldNotFound {}),
            Ending::AlreadyCommitted => {
                commit::Outcome::AlreadyCommitted(pb::HoldAlreadyCommitted {})
            }
            Ending::AlreadyReleased => commit::Outcome::AlreadyReleased(pb::HoldAlreadyReleased {}),
            Ending::Expired(at) => commit::Outcome::Expired(expired(at)),
            Ending::Fenced(current_token) => commit::Outcome::Fenced(pb::Fenced { current_token }),
        };
        pb::CommitHoldResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::ReleaseHoldRequest {
    type Op = ReleaseHold;
    type Reply = pb::ReleaseHoldResponse;

    fn parse(self, limits: &Limits) -> Result<ReleaseHold, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let hold_id = f.take("hold_id", Id::parse(&self.hold_id));
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        let fence = fence(&mut f, self.fence, limits);
        f.finish(|| {
            Some(ReleaseHold {
                store: store?,
                hold_id: hold_id?,
                request_id: request_id?,
                fence,
            })
        })
    }

    fn reply(replied: Replied<Ending<Vec<(String, i64)>>>) -> pb::ReleaseHoldResponse {
        let outcome = match replied.outcome {
            Ending::Done(items) => release::Outcome::Released(release::Released {
                items: items
                    .into_iter()
                    .map(|(product, quantity)| pb::OrderItem { product, quantity })
                    .collect(),
            }),
            Ending::NotFound => release::Outcome::NotFound(pb::HoldNotFound {}),
            Ending::AlreadyCommitted => {
                release::Outcome::AlreadyCommitted(pb::HoldAlreadyCommitted {})
            }
            Ending::AlreadyReleased => {
                release::Outcome::AlreadyReleased(pb::HoldAlreadyReleased {})
            }
            Ending::Expired(at) => release::Outcome::Expired(expired(at)),
            Ending::Fenced(current_token) => release::Outcome::Fenced(pb::Fenced { current_token }),
        };
        pb::ReleaseHoldResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::GetHoldRequest {
    type Op = GetHold;
    type Reply = pb::GetHoldResponse;

    fn parse(self, _limits: &Limits) -> Result<GetHold, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let hold_id = f.take("hold_id", Id::parse(&self.hold_id));
        f.finish(|| {
            Some(GetHold {
                store: store?,
                hold_id: hold_id?,
            })
        })
    }

    fn reply(replied: Replied<Option<HoldView>>) -> pb::GetHoldResponse {
        let outcome = match replied.outcome {
            Some(view) => get::Outcome::Hold(hold_message(view)),
            None => get::Outcome::NotFound(pb::HoldNotFound {}),
        };
        pb::GetHoldResponse {
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::ListHoldsRequest {
    type Op = HoldsQuery;
    type Reply = pb::ListHoldsResponse;

    fn parse(self, _limits: &Limits) -> Result<HoldsQuery, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let page_size = f.take("page_size", types::page_size(self.page_size));
        let page_token = f.take(
            "page_token",
            Ok::<_, String>(Some(self.page_token).filter(|t| !t.is_empty())),
        );
        f.finish(|| {
            Some(HoldsQuery {
                store: store?,
                page_size: page_size?,
                page_token: page_token?,
            })
        })
    }

    fn reply(replied: Replied<Page<HoldView>>) -> pb::ListHoldsResponse {
        let page = replied.outcome;
        pb::ListHoldsResponse {
            holds: page.items.into_iter().map(hold_message).collect(),
            next_page_token: page.next_token.unwrap_or_default(),
        }
    }
}

fn expired(at: std::time::SystemTime) -> pb::HoldExpired {
    pb::HoldExpired {
        expired_at: Some(timestamp(at)),
    }
}

fn hold_message(view: HoldView) -> pb::Hold {
    let state = match view.state {
        HoldState::Held => pb::HoldState::Held,
        HoldState::Committed => pb::HoldState::Committed,
        HoldState::Released => pb::HoldState::Released,
        HoldState::Expired => pb::HoldState::Expired,
        HoldState::Cancelled => pb::HoldState::Cancelled,
    };
    pb::Hold {
        hold_id: view.hold_id,
        state: state.into(),
        expires_at: Some(timestamp(view.expires_at)),
        ended_at: view.ended_at.map(timestamp),
        lines: view
            .lines
            .into_iter()
            .map(|line| pb::hold::Line {
                product: line.product,
                quantity: line.units,
                committed: line.committed,
            })
            .collect(),
    }
}
