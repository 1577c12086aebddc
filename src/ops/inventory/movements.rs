//! The movements of a store or product, a page at a time.

use super::{Movement, MovementKind, MovementsQuery};
use crate::{
    deadline::Deadline,
    error::Error,
    ops::{Context, Page, Replied, binding::Execute, streams::Entry},
    redis::field,
};

impl Execute for MovementsQuery {
    type Outcome = Page<Movement>;

    /// Lists movements, newest first.
    async fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> Result<Replied<Page<Movement>>, Error> {
        let stream = match &self.product {
            Some(product) => (cx.keys.product_movements(&self.store, product), true),
            None => (cx.keys.movements(&self.store), false),
        };
        cx.page(
            stream,
            self.page_token.as_deref(),
            self.page_size,
            deadline,
            Movement::read,
        )
        .await
    }
}

impl Movement {
    /// The movement a stream entry records, `id` its id in the store's
    /// journal.
    pub(crate) fn read(entry: &Entry, id: String) -> Result<Self, Error> {
        let kind = match entry.text(field::KIND)?.as_str() {
            "set" => MovementKind::Set,
            "restock" => MovementKind::Restock,
            "deduct" => MovementKind::Deduct,
            "cancel" => MovementKind::Cancel,
            "hold" => MovementKind::Hold,
            "commit" => MovementKind::Commit,
            "release" => MovementKind::Release,
            "expire" => MovementKind::Expire,
            _ => return Err(Error::internal("streams", "unknown movement kind")),
        };
        Ok(Movement {
            id,
            kind,
            product: entry.text(field::PRODUCT)?,
            delta: entry.int(field::DELTA)?,
            before: entry.int(field::BEFORE)?,
            after: entry.int(field::AFTER)?,
            order_id: entry.text(field::ORDER)?,
            time: entry.time()?,
            // Movements written before holds existed have neither.
            held_delta: entry.opt_int(field::HELD_DELTA)?.unwrap_or(0),
            held: entry.opt_int(field::HELD)?.unwrap_or(0),
            // Only calls with an identity have one.
            by: entry.text_or_empty(field::BY)?,
        })
    }
}
