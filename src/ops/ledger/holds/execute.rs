//! The pending-transfer requests that take more than one script: a hold
//! and its note for the sweep, a post or void after reading the hold.

use super::{
    FundsEnding, FundsHoldOutcome, FundsPosted, GetFundsHold, HoldFunds, Holding, Loaded, PostHold,
    PostLoaded, VoidHold, VoidLoaded,
};
use crate::{
    deadline::Deadline,
    error::Error,
    ops::{
        Context, Replied,
        binding::{Execute, Operation},
        sweep::DueAdd,
        types::{
            Id,
            kind::{Book, Transfer},
        },
    },
};

impl Execute for HoldFunds {
    type Outcome = FundsHoldOutcome;

    /// Holds, then notes the hold in the sweep's index (again on a replay:
    /// the first reply may have been lost before the note was made).
    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<FundsHoldOutcome>, Error> {
        let replied = cx.run(&Holding(self), deadline).await?;
        if let FundsHoldOutcome::Held { expires_at, .. } = &replied.outcome {
            let add = DueAdd::new(cx, &self.book, &self.hold_id, *expires_at);
            cx.run(&add, deadline).await?;
        }
        Ok(replied)
    }
}

/// Reads the hold's accounts (the write declares their streams), then
/// runs `write` with them; once more if the hold changed in between.
async fn after_reading<W, T>(
    cx: &Context,
    book: &Id<Book>,
    hold_id: &Id<Transfer>,
    deadline: Deadline,
    write: impl Fn((String, String)) -> W,
) -> Result<Replied<FundsEnding<T>>, Error>
where
    W: Operation<Outcome = Loaded<FundsEnding<T>>>,
{
    for _ in 0..2 {
        let get = GetFundsHold {
            book: book.clone(),
            hold_id: hold_id.clone(),
        };
        let Some(hold) = cx.run(&get, deadline).await?.outcome else {
            return Ok(Replied::fresh(FundsEnding::NotFound));
        };
        let replied = cx.run(&write((hold.from, hold.to)), deadline).await?;
        if let Loaded::Done(outcome) = replied.outcome {
            return Ok(Replied {
                outcome,
                replayed: replied.replayed,
            });
        }
    }
    Err(Error::internal(
        W::SCRIPT.name(),
        "the hold changed twice between reading and ending it",
    ))
}

impl Execute for PostHold {
    type Outcome = FundsEnding<FundsPosted>;

    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<Self::Outcome>, Error> {
        after_reading(cx, &self.book, &self.hold_id, deadline, |accounts| {
            PostLoaded {
                request: self.clone(),
                accounts,
            }
        })
        .await
    }
}

impl Execute for VoidHold {
    type Outcome = FundsEnding<(i64, String)>;

    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<Self::Outcome>, Error> {
        after_reading(cx, &self.book, &self.hold_id, deadline, |accounts| {
            VoidLoaded {
                request: self.clone(),
                accounts,
            }
        })
        .await
    }
}
