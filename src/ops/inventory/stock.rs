//! Stock levels: set, add, read.

use super::{GetStock, Restock, STOCK_KEYS, SetStock, StockChange, changes, stock_call};
use crate::{
    error::Error,
    ops::{
        Context,
        binding::{Layout, Operation, Record},
        types::{Id, kind::Product},
    },
    redis::{Call, Reply, Script},
};

impl Operation for SetStock {
    const SCRIPT: Script = Script::InventorySetStock;
    const LAYOUT: Layout =
        Layout::write(&STOCK_KEYS, &["retention"]).lists(&["4 .. 3+N"], &["4 .. 3+2N"]);
    type Outcome = Vec<StockChange>;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(
            &cx.keys,
            &self.store,
            self.request_id.as_ref(),
        ))
    }

    fn build(&self, cx: &Context, mut call: Call) -> Call {
        call = stock_call(cx, &self.store, call);
        for item in &self.levels {
            call = call.key(cx.keys.product_movements(&self.store, &item.product));
        }
        for item in &self.levels {
            call = call.arg(item.product.as_str()).arg(item.units.get());
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<Vec<StockChange>, Error> {
        if reply.tag()? != "set" {
            return Err(reply.unexpected());
        }
        changes(reply)
    }
}

impl Operation for Restock {
    const SCRIPT: Script = Script::InventoryRestock;
    const LAYOUT: Layout = Layout::write(
        &[STOCK_KEYS[0], STOCK_KEYS[1], "the product's movements"],
        &["retention", "the product", "units to add"],
    );
    type Outcome = StockChange;

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(Record::tagged(
            &cx.keys,
            &self.store,
            self.request_id.as_ref(),
        ))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let item = &self.item;
        stock_call(cx, &self.store, call)
            .key(cx.keys.product_movements(&self.store, &item.product))
            .arg(item.product.as_str())
            .arg(item.units.get())
    }

    fn decode(&self, reply: &Reply) -> Result<StockChange, Error> {
        match reply.tag()? {
            "restocked" => Ok(StockChange {
                product: self.item.product.to_string(),
                before: reply.int(1)?,
                after: reply.int(2)?,
            }),
            "overflow" => Err(Error::invalid(
                "quantity",
                format!(
                    "would take the level of {} past 2^53-1 (it is {})",
                    self.item.product,
                    reply.int(1)?
                ),
            )),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for GetStock {
    const SCRIPT: Script = Script::InventoryGetStock;
    const LAYOUT: Layout = Layout::read(&[STOCK_KEYS[0]], &[]).lists(&[], &["1 .. N"]);
    /// `(product, level)`, in the order asked.
    type Outcome = Vec<(Id<Product>, i64)>;

    fn build(&self, cx: &Context, mut call: Call) -> Call {
        call = call.key(cx.keys.stock(&self.store));
        for product in &self.products {
            call = call.arg(product.as_str());
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        if reply.tag()? != "levels" || reply.len() != self.products.len() + 1 {
            return Err(reply.unexpected());
        }
        let levels = (1..reply.len()).map(|i| reply.int(i));
        self.products
            .iter()
            .cloned()
            .zip(levels)
            .map(|(product, level)| Ok((product, level?)))
            .collect()
    }
}
