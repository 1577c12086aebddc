//! Where each operation's data lives in Redis (README: "The API at a
//! glance").
//!
//! Every key starts with the configured prefix and a `:`. The prefix holds
//! neither braces, so a key's hash tag is always the caller's `{tag}`, a
//! store, a book, a counter or a sequence name, and everything one
//! operation touches shares one cluster slot; nor a `:`, so the layout is
//! prefix-free: no key of a deployment with prefix `a` can be a key of one
//! with prefix `a:b` (which could otherwise write `a:b:led:…` as the value
//! `b:led:…`), and the ACL pattern `~<prefix>:*` covers exactly one
//! deployment. Idempotency records live in the slot of the data they guard,
//! in a namespace no caller key can reach.

use std::sync::Arc;

use super::types::{
    Id, Key, Tag,
    kind::{Account, Book, Counter, Order, Product, RecordTag, Sequence, Store, Transfer},
};
use crate::redis::slot::hash_tag;

/// Builds the Redis keys of every operation under one prefix.
#[derive(Clone, Debug)]
pub struct Keyspace {
    prefix: Arc<str>,
}

impl Keyspace {
    /// A keyspace under `prefix`: 1–64 characters of `[A-Za-z0-9._-]`.
    pub fn new(prefix: &str) -> Result<Self, String> {
        let ok = !prefix.is_empty()
            && prefix.len() <= 64
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ok {
            return Err(format!(
                "key prefix {prefix:?} must be 1-64 characters of [A-Za-z0-9._-] \
                 (no ':', which separates the prefix from the rest of a key)"
            ));
        }
        Ok(Self {
            prefix: prefix.into(),
        })
    }

    /// The prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A plain value: `<p>:val:<key>`.
    #[must_use]
    pub fn value(&self, key: &Key) -> String {
        format!("{}:val:{key}", self.prefix)
    }

    /// The highest version any record of a tag (or of one untagged key)
    /// ever had: `<p>:rev:tag:{<tag>}` or `<p>:rev:key:{<record key>}`, in
    /// the record's slot. It never expires, so a record created again
    /// continues past every version its tag gave out, whatever the TTLs.
    #[must_use]
    pub fn revision(&self, record_key: &str) -> String {
        let (kind, anchor) = anchor(record_key);
        format!("{}:rev:{kind}:{{{anchor}}}", self.prefix)
    }

    /// The change journal of the records of `tag`: `<p>:jrn:tag:{<tag>}`, a
    /// stream that exists only while the journal is on.
    #[must_use]
    pub fn journal(&self, tag: &Id<RecordTag>) -> String {
        format!("{}:jrn:tag:{{{tag}}}", self.prefix)
    }

    /// The change journal a write of `record_key` appends to when it is on:
    /// its tag's, or for an untagged key `<p>:jrn:key:{<record key>}`,
    /// which no one can turn on (a journal is a tag's), in the record's
    /// slot as a script's keys must be.
    #[must_use]
    pub fn record_journal(&self, record_key: &str) -> String {
        let (kind, anchor) = anchor(record_key);
        format!("{}:jrn:{kind}:{{{anchor}}}", self.prefix)
    }

    /// A versioned record: `<p>:rec:<key>`.
    #[must_use]
    pub fn record(&self, key: &Key) -> String {
        format!("{}:rec:{key}", self.prefix)
    }

    /// A lease (LeasesService), a hash: `<p>:lse:<name>`, in the slot of
    /// the name's `{tag}` like the data it fences. Never deleted: its last
    /// token outlives every grant.
    #[must_use]
    pub fn lease(&self, name: &Key) -> String {
        format!("{}:lse:{name}", self.prefix)
    }

    /// The releases of a lease, a stream its waiters' doorbells block on:
    /// `<p>:lsev:tag:{<tag>}` (shared by the leases of a tag) or
    /// `<p>:lsev:key:{<lease key>}`, in the lease's slot.
    #[must_use]
    pub fn lease_releases(&self, lease_key: &str) -> String {
        let (kind, anchor) = anchor(lease_key);
        format!("{}:lsev:{kind}:{{{anchor}}}", self.prefix)
    }

    /// A store's stock levels: `<p>:inv:{<store>}:stock`.
    #[must_use]
    pub fn stock(&self, store: &Id<Store>) -> String {
        format!("{}:inv:{{{store}}}:stock", self.prefix)
    }

    /// A store's movements stream: `<p>:inv:{<store>}:moves`.
    #[must_use]
    pub fn movements(&self, store: &Id<Store>) -> String {
        format!("{}:inv:{{{store}}}:moves", self.prefix)
    }

    /// One product's movements stream: `<p>:inv:{<store>}:moves:<product>`.
    #[must_use]
    pub fn product_movements(&self, store: &Id<Store>, product: &Id<Product>) -> String {
        format!("{}:inv:{{{store}}}:moves:{product}", self.prefix)
    }

    /// Units a store's holds hold, per product: `<p>:inv:{<store>}:held`.
    #[must_use]
    pub fn held(&self, store: &Id<Store>) -> String {
        format!("{}:inv:{{{store}}}:held", self.prefix)
    }

    /// A store's active holds by expiry: `<p>:inv:{<store>}:holds`.
    #[must_use]
    pub fn holds(&self, store: &Id<Store>) -> String {
        format!("{}:inv:{{{store}}}:holds", self.prefix)
    }

    /// One shard of the sweep's index of the holds of every store (`inv`)
    /// or book (`led`) by expiry: `<p>:<namespace>:due:{<shard>}`.
    /// Sharded so that, on a cluster, every hold does not add to one
    /// node's key.
    #[must_use]
    pub fn holds_due<T: Tag>(&self, shard: u16) -> String {
        format!("{}:{}:due:{{{shard}}}", self.prefix, T::NAMESPACE)
    }

    /// A book's pending debits, per account: `<p>:led:{<book>}:pend_dr`.
    #[must_use]
    pub fn pending_debits(&self, book: &Id<Book>) -> String {
        format!("{}:led:{{{book}}}:pend_dr", self.prefix)
    }

    /// A book's pending credits, per account: `<p>:led:{<book>}:pend_cr`.
    #[must_use]
    pub fn pending_credits(&self, book: &Id<Book>) -> String {
        format!("{}:led:{{{book}}}:pend_cr", self.prefix)
    }

    /// A book's active holds by expiry: `<p>:led:{<book>}:holds`.
    #[must_use]
    pub fn book_holds(&self, book: &Id<Book>) -> String {
        format!("{}:led:{{{book}}}:holds", self.prefix)
    }

    /// A pending transfer's record: `<p>:led:{<book>}:hold:<hold id>`.
    #[must_use]
    pub fn funds_hold(&self, book: &Id<Book>, hold: &Id<Transfer>) -> String {
        format!("{}:led:{{{book}}}:hold:{hold}", self.prefix)
    }

    /// An order's record (or a hold's, which becomes the order's when
    /// committed): `<p>:inv:{<store>}:order:<order id>`.
    #[must_use]
    pub fn order(&self, store: &Id<Store>, order: &Id<Order>) -> String {
        format!("{}:inv:{{{store}}}:order:{order}", self.prefix)
    }

    /// A book's balances: `<p>:led:{<book>}:bal`.
    #[must_use]
    pub fn balances(&self, book: &Id<Book>) -> String {
        format!("{}:led:{{{book}}}:bal", self.prefix)
    }

    /// A book's entries stream (its audit trail): `<p>:led:{<book>}:entries`.
    #[must_use]
    pub fn entries(&self, book: &Id<Book>) -> String {
        format!("{}:led:{{{book}}}:entries", self.prefix)
    }

    /// One account's entries stream: `<p>:led:{<book>}:entries:<account>`.
    #[must_use]
    pub fn account_entries(&self, book: &Id<Book>, account: &Id<Account>) -> String {
        format!("{}:led:{{{book}}}:entries:{account}", self.prefix)
    }

    /// A sequence's highest issued id: `<p>:seq:{<name>}:high`.
    #[must_use]
    pub fn sequence_high(&self, name: &Id<Sequence>) -> String {
        format!("{}:seq:{{{name}}}:high", self.prefix)
    }

    /// A sequence's free ids: `<p>:seq:{<name>}:free`.
    #[must_use]
    pub fn sequence_free(&self, name: &Id<Sequence>) -> String {
        format!("{}:seq:{{{name}}}:free", self.prefix)
    }

    /// A counter: `<p>:ctr:{<name>}`.
    #[must_use]
    pub fn counter(&self, name: &Id<Counter>) -> String {
        format!("{}:ctr:{{{name}}}", self.prefix)
    }

    /// A daily quota at one UTC offset: `<p>:ctr:{<name>}:quota:<minutes>`.
    #[must_use]
    pub fn quota(&self, name: &Id<Counter>, utc_offset_minutes: i32) -> String {
        format!("{}:ctr:{{{name}}}:quota:{utc_offset_minutes}", self.prefix)
    }

    /// The idempotency record of a request on a store (`inv`), a counter
    /// (`ctr`), a book (`led`) or a sequence (`seq`):
    /// `<p>:<namespace>:{<id>}:idem:<request id>`, in the slot of its data;
    /// the namespace is the tag's kind's ([`Tag`]).
    #[must_use]
    pub fn tagged_idempotency<T: Tag, R>(&self, tag: &Id<T>, request_id: Option<&Id<R>>) -> String {
        format!(
            "{}:{}:{{{tag}}}:idem:{}",
            self.prefix,
            T::NAMESPACE,
            request_id.map_or("", Id::as_str)
        )
    }

    /// The idempotency record of a request on `data_key`, in its slot:
    /// `<p>:idem:tag:{<tag>}:<request id>` when the key has a hash tag,
    /// `<p>:idem:key:{<data key>}:<request id>` when it has none. The two
    /// kinds differ before the brace, so a tag that spells out another,
    /// untagged, data key (`x{rmw:val:abc}` and `abc`) never shares its
    /// record. Neither a tag, a data key without one, nor a request id
    /// holds a brace, so the record key reads back one way only. Without a
    /// request id the key is declared but never used.
    #[must_use]
    pub fn idempotency<R>(&self, data_key: &str, request_id: Option<&Id<R>>) -> String {
        let (kind, anchor) = anchor(data_key);
        format!(
            "{}:idem:{kind}:{{{anchor}}}:{}",
            self.prefix,
            request_id.map_or("", Id::as_str)
        )
    }
}

/// What keys in the slot of `key` are named after: its hash tag
/// (`"tag"`), or, untagged, the whole key (`"key"`), which a derived key
/// wraps in braces as its own tag.
fn anchor(key: &str) -> (&'static str, &str) {
    match hash_tag(key) {
        Some(tag) => ("tag", tag),
        None => ("key", key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::types::RequestId;
    use crate::redis::slot::slot;

    /// An idempotency record always lands in its data's slot, tagged or not.
    #[test]
    fn idempotency_records_share_the_data_slot() {
        let keys = Keyspace::new("rmw").unwrap();
        let rid: RequestId = Id::parse("r-1").unwrap();
        for key in ["plain", "user{42}:name", "{x}", "a:b:c"] {
            let key = Key::parse(key).unwrap();
            for data in [keys.value(&key), keys.record(&key)] {
                let record = keys.idempotency(&data, Some(&rid));
                assert_eq!(slot(&record), slot(&data), "{data} / {record}");
            }
        }
    }

    /// A lease's releases stream shares its slot, tagged or not; a tagged
    /// lease shares the slot of the data of its tag.
    #[test]
    fn lease_keys_share_their_slot() {
        let keys = Keyspace::new("rmw").unwrap();
        for name in ["plain", "job{42}", "{x}", "a:b:c"] {
            let lease = keys.lease(&Key::parse(name).unwrap());
            assert_eq!(slot(&keys.lease_releases(&lease)), slot(&lease), "{lease}");
        }
        let lease = keys.lease(&Key::parse("lock{42}").unwrap());
        let data = keys.value(&Key::parse("user{42}:name").unwrap());
        assert_eq!(slot(&lease), slot(&data));
    }

    /// The prefix may not hold braces, which would steal the hash tag,
    /// nor the separator, which would let one prefix nest in another.
    #[test]
    fn prefix_rules() {
        assert!(Keyspace::new("rmw").is_ok());
        assert!(Keyspace::new("team-a.rmw_2").is_ok());
        for bad in ["", "{x}", "a b", "team-a:rmw", "rmw:", &"p".repeat(65)] {
            assert!(Keyspace::new(bad).is_err(), "{bad:?}");
        }
    }

    /// A tagged key whose tag spells out an untagged key's data key has a
    /// record of its own (hardening #5).
    #[test]
    fn tagged_and_untagged_keys_never_share_a_record() {
        let keys = Keyspace::new("rmw").unwrap();
        let rid: RequestId = Id::parse("r-1").unwrap();
        let tagged = keys.value(&Key::parse("x{rmw:val:abc}").unwrap());
        let untagged = keys.value(&Key::parse("abc").unwrap());
        assert_ne!(
            keys.idempotency(&tagged, Some(&rid)),
            keys.idempotency(&untagged, Some(&rid))
        );
    }
}
