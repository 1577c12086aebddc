//! Stock levels: set, add, read.

use super::{
    GetStock, Level, Restock, STOCK_KEYS, STOCK_SETTINGS, SetOutcome, SetStock, StockChange,
    changes, stock_call,
};
use crate::{
    error::Error,
    ops::{
        Context,
        binding::{Layout, Operation, Record},
    },
    redis::{Call, Reply, Script},
};

impl Operation for SetStock {
    const SCRIPT: Script = Script::InventorySetStock;
    const LAYOUT: Layout =
        Layout::write(&STOCK_KEYS, &STOCK_SETTINGS).lists(&["6 .. 5+N"], &["6 .. 5+2N"]);
    type Outcome = SetOutcome;

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

    fn decode(&self, reply: &Reply) -> Result<SetOutcome, Error> {
        match reply.tag()? {
            "set" => Ok(SetOutcome::Set(changes(reply)?)),
            "below_held" => Ok(SetOutcome::BelowHeld {
                product: reply.text(1)?,
                held: reply.int(2)?,
                requested: reply.int(3)?,
            }),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for Restock {
    const SCRIPT: Script = Script::InventoryRestock;
    const LAYOUT: Layout = Layout::write(
        &[
            STOCK_KEYS[0],
            STOCK_KEYS[1],
            STOCK_KEYS[2],
            STOCK_KEYS[3],
            "the product's movements",
        ],
        &[
            STOCK_SETTINGS[0],
            STOCK_SETTINGS[1],
            STOCK_SETTINGS[2],
            "the product",
            "units to add",
        ],
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
    const LAYOUT: Layout = Layout::read(
        &[STOCK_KEYS[0], STOCK_KEYS[2], STOCK_KEYS[3]],
        &[STOCK_SETTINGS[1]],
    )
    .lists(&[], &["2 .. 1+N"]);
    /// The levels, in the order asked.
    type Outcome = Vec<Level>;

    fn build(&self, cx: &Context, mut call: Call) -> Call {
        call = call
            .key(cx.keys.stock(&self.store))
            .key(cx.keys.held(&self.store))
            .key(cx.keys.holds(&self.store))
            .setting(cx.clock_skew_secs);
        for product in &self.products {
            call = call.arg(product.as_str());
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        if reply.tag()? != "levels" || reply.len() != self.products.len() + 1 {
            return Err(reply.unexpected());
        }
        self.products
            .iter()
            .enumerate()
            .map(|(i, product)| {
                let level = reply.nested(i + 1)?;
                Ok(Level {
                    product: product.to_string(),
                    on_hand: level.int(0)?,
                    held: level.int(1)?,
                })
            })
            .collect()
    }
}
