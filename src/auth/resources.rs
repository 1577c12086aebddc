//! What each operation touches, by kind and name, for the policy to
//! grant. Only what the request names: a hold or an order is checked by
//! its store (or book), not by the products it was made of.

use super::{Declared, Guarded, Kind, Resource};
use crate::{
    error::Error,
    ops::{
        Acquire, Adjust, CancelOrder, CommitHold, CompareAndSwap, ConditionalUpdate, Consume,
        Credit, Debit, Deduct, DeleteRecord, EntriesQuery, GetBalances, GetCounter, GetFundsHold,
        GetHold, GetLease, GetQuota, GetRecord, GetSequence, GetStock, GetValue, HoldFunds,
        HoldStock, HoldsQuery, Item, MovementsQuery, NextIds, PlaceOrder, PostHold, PutRecord,
        Release, ReleaseHold, Renew, Restock, ReturnIds, SetJournal, SetStock, Transfer, VoidHold,
    },
};

/// Implements [`Guarded`] for operations whose resources are fields
/// named here: `Op => |op| [Kind: expression yielding &str, ...]`.
macro_rules! touches {
    ($($op:ty => |$o:ident| [$($kind:ident: $name:expr),* $(,)?] $(+ $more:expr)?;)*) => {$(
        impl Guarded for $op {
            fn resources(&self) -> Vec<Resource<'_>> {
                let $o = self;
                #[allow(unused_mut)]
                let mut resources = vec![$(Resource::new(Kind::$kind, $name)),*];
                $(resources.extend($more);)?
                resources
            }
        }
    )*};
}

fn products(items: &[Item]) -> impl Iterator<Item = Resource<'_>> {
    items
        .iter()
        .map(|item| Resource::new(Kind::Product, item.product.as_str()))
}

touches! {
    GetValue => |o| [Value: o.key.as_str()];
    CompareAndSwap => |o| [Value: o.key.as_str()];
    ConditionalUpdate => |o| []
        + o.conditions.iter().map(|c| Resource::new(Kind::Value, c.key.as_str()))
            .chain(o.writes.iter().map(|w| Resource::new(Kind::Value, w.key.as_str())));
    GetRecord => |o| [Record: o.key.as_str()];
    PutRecord => |o| [Record: o.key.as_str()];
    DeleteRecord => |o| [Record: o.key.as_str()];
    SetJournal => |o| [Tag: o.tag.as_str()];
    SetStock => |o| [Store: o.store.as_str()] + products(&o.levels);
    Restock => |o| [Store: o.store.as_str(), Product: o.item.product.as_str()];
    GetStock => |o| [Store: o.store.as_str()]
        + o.products.iter().map(|p| Resource::new(Kind::Product, p.as_str()));
    Deduct => |o| [Store: o.store.as_str(), Product: o.item.product.as_str()];
    PlaceOrder => |o| [Store: o.store.as_str()] + products(&o.items);
    CancelOrder => |o| [Store: o.store.as_str()];
    MovementsQuery => |o| [Store: o.store.as_str()]
        + o.product.iter().map(|p| Resource::new(Kind::Product, p.as_str()));
    HoldStock => |o| [Store: o.store.as_str()] + products(&o.items);
    CommitHold => |o| [Store: o.store.as_str()]
        + o.items.iter().flat_map(|items| products(items));
    ReleaseHold => |o| [Store: o.store.as_str()];
    GetHold => |o| [Store: o.store.as_str()];
    HoldsQuery => |o| [Store: o.store.as_str()];
    Credit => |o| [Book: o.0.book.as_str(), Account: o.0.account.as_str()];
    Debit => |o| [Book: o.0.book.as_str(), Account: o.0.account.as_str()];
    Transfer => |o| [Book: o.book.as_str(), Account: o.from.as_str(), Account: o.to.as_str()];
    GetBalances => |o| [Book: o.book.as_str()]
        + o.accounts.iter().map(|a| Resource::new(Kind::Account, a.as_str()));
    EntriesQuery => |o| [Book: o.book.as_str()]
        + o.account.iter().map(|a| Resource::new(Kind::Account, a.as_str()));
    HoldFunds => |o| [Book: o.book.as_str(), Account: o.from.as_str(), Account: o.to.as_str()];
    PostHold => |o| [Book: o.book.as_str()];
    VoidHold => |o| [Book: o.book.as_str()];
    GetFundsHold => |o| [Book: o.book.as_str()];
    GetCounter => |o| [Counter: o.name.as_str()];
    NextIds => |o| [Sequence: o.name.as_str()];
    ReturnIds => |o| [Sequence: o.name.as_str()];
    GetSequence => |o| [Sequence: o.name.as_str()];
    Acquire => |o| [Lease: o.attempt.name.as_str()];
    Renew => |o| [Lease: o.name.as_str()];
    Release => |o| [Lease: o.name.as_str()];
    GetLease => |o| [Lease: o.name.as_str()];
}

impl Guarded for Adjust {
    fn resources(&self) -> Vec<Resource<'_>> {
        vec![Resource::new(Kind::Counter, self.name.as_str())]
    }

    fn declare(&mut self, declared: &Declared) -> Result<(), Error> {
        declared.adjust(self)
    }
}

impl Guarded for Consume {
    fn resources(&self) -> Vec<Resource<'_>> {
        vec![Resource::new(Kind::Quota, self.name.as_str())]
    }

    fn declare(&mut self, declared: &Declared) -> Result<(), Error> {
        declared.consume(self)
    }
}

impl Guarded for GetQuota {
    fn resources(&self) -> Vec<Resource<'_>> {
        vec![Resource::new(Kind::Quota, self.name.as_str())]
    }

    fn declare(&mut self, declared: &Declared) -> Result<(), Error> {
        declared.get_quota(self)
    }
}
