//! Who is calling, for the movements and ledger entries a call writes:
//! the authenticated principal, set by the edge around the call
//! (`auth`), read when a stock- or money-changing script's arguments are
//! built. A request-scoped value like its span, so that no operation's
//! type has to carry it.

use std::{future::Future, sync::Arc};

tokio::task_local! {
    static PRINCIPAL: Arc<str>;
}

/// Runs `call` as `principal`'s (as no one's with `None`).
pub async fn as_caller<F: Future>(principal: Option<Arc<str>>, call: F) -> F::Output {
    match principal {
        Some(principal) => PRINCIPAL.scope(principal, call).await,
        None => call.await,
    }
}

/// The principal of the call running now; '' for none.
#[must_use]
pub fn name() -> String {
    PRINCIPAL.try_with(ToString::to_string).unwrap_or_default()
}
