//! The hold requests that take more than one script: a hold and its note
//! for the sweep, a commit or release after reading the hold's products, a
//! page of holds.

use std::time::UNIX_EPOCH;

use super::{
    CommitHold, CommitLoaded, Committed, Ending, GetHold, HoldOutcome, HoldStock, HoldView,
    Holding, HoldsQuery, ListHolds, Loaded, ReleaseHold, ReleaseLoaded,
};
use crate::{
    deadline::Deadline,
    error::Error,
    ops::{
        Context, Page, Replied,
        binding::Execute,
        sweep::DueAdd,
        types::{
            Id,
            kind::{Order, Product, Store},
        },
    },
    redis::Script,
};

impl Execute for HoldStock {
    type Outcome = HoldOutcome;

    /// Holds, then notes the hold in the sweep's index (again on a replay:
    /// the first reply may have been lost before the note was made).
    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<HoldOutcome>, Error> {
        let replied = cx.run(&Holding(self), deadline).await?;
        if let HoldOutcome::Held(held) = &replied.outcome {
            let add = DueAdd::new(cx, &self.store, &self.hold_id, held.expires_at);
            cx.run(&add, deadline).await?;
        }
        Ok(replied)
    }
}

/// Reads the hold's products (the write declares their streams).
async fn hold_products(
    cx: &Context,
    store: &Id<Store>,
    hold_id: &Id<Order>,
    deadline: Deadline,
) -> Result<Option<Vec<Id<Product>>>, Error> {
    let get = GetHold {
        store: store.clone(),
        hold_id: hold_id.clone(),
    };
    let Some(hold) = cx.run(&get, deadline).await?.outcome else {
        return Ok(None);
    };
    let products = hold
        .lines
        .iter()
        .map(|line| {
            Id::parse(&line.product)
                .map_err(|_| Error::internal(Script::InventoryGetHold.name(), "bad product id"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(products))
}

impl Execute for CommitHold {
    type Outcome = Ending<Committed>;

    /// Reads the hold's products, then commits; once more if the hold
    /// changed in between.
    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<Self::Outcome>, Error> {
        for _ in 0..2 {
            let Some(products) = hold_products(cx, &self.store, &self.hold_id, deadline).await?
            else {
                return Ok(Replied::fresh(Ending::NotFound));
            };
            if let Some(items) = &self.items
                && let Some(item) = items.iter().find(|i| !products.contains(&i.product))
            {
                return Err(Error::invalid(
                    "items",
                    format!("product {} is not in hold {}", item.product, self.hold_id),
                ));
            }
            let lines = products
                .into_iter()
                .map(|product| {
                    let units = self.items.as_ref().map(|items| {
                        items
                            .iter()
                            .find(|i| i.product == product)
                            .map_or(0, |i| i.units.get())
                    });
                    (product, units)
                })
                .collect();
            let commit = CommitLoaded {
                request: self.clone(),
                lines,
            };
            let replied = cx.run(&commit, deadline).await?;
            if let Loaded::Done(outcome) = replied.outcome {
                return Ok(Replied {
                    outcome,
                    replayed: replied.replayed,
                });
            }
        }
        Err(Error::internal(
            Script::InventoryCommitHold.name(),
            "the hold changed twice between reading and committing it",
        ))
    }
}

impl Execute for ReleaseHold {
    type Outcome = Ending<Vec<(String, i64)>>;

    /// Reads the hold's products, then releases; once more if the hold
    /// changed in between.
    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<Self::Outcome>, Error> {
        for _ in 0..2 {
            let Some(products) = hold_products(cx, &self.store, &self.hold_id, deadline).await?
            else {
                return Ok(Replied::fresh(Ending::NotFound));
            };
            let release = ReleaseLoaded {
                request: self.clone(),
                products,
            };
            let replied = cx.run(&release, deadline).await?;
            if let Loaded::Done(outcome) = replied.outcome {
                return Ok(Replied {
                    outcome,
                    replayed: replied.replayed,
                });
            }
        }
        Err(Error::internal(
            Script::InventoryReleaseHold.name(),
            "the hold changed twice between reading and releasing it",
        ))
    }
}

impl Execute for HoldsQuery {
    type Outcome = Page<HoldView>;

    /// Lists active holds, soonest expiry first; the page token is the
    /// last hold's `<expiry ms>:<hold id>`.
    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<Page<HoldView>>, Error> {
        let after = match &self.page_token {
            None => None,
            Some(token) => Some(
                parse_token(token)
                    .ok_or_else(|| Error::invalid("page_token", "not a page token of ListHolds"))?,
            ),
        };
        let list = ListHolds {
            store: self.store.clone(),
            size: self.page_size,
            after,
        };
        let (items, more) = cx.run(&list, deadline).await?.outcome;
        let next_token = if more {
            items.last().map(|last| {
                let ms = last
                    .expires_at
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                format!("{ms}:{}", last.hold_id)
            })
        } else {
            None
        };
        Ok(Replied::fresh(Page { items, next_token }))
    }
}

fn parse_token(token: &str) -> Option<(u64, String)> {
    let (ms, id) = token.split_once(':')?;
    let ms = ms.parse().ok()?;
    Id::<Order>::parse(id).ok()?;
    Some((ms, id.to_owned()))
}
