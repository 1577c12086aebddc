//! Validated request values. Deeper code takes these, never raw strings.
//!
//! Each `parse` returns the rule a text breaks as the `Err` text, which the
//! gRPC edge reports as a `BadRequest` field violation.

use std::{fmt, marker::PhantomData};

pub use super::limits::MAX_SAFE_INTEGER;
use super::limits::{
    DEFAULT_PAGE_SIZE, MAX_ID_BYTES, MAX_KEY_BYTES, MAX_PAGE_SIZE, MAX_VALUE_BYTES,
};

/// A caller's key for a value or a record: 1–256 bytes of printable ASCII
/// (0x21–0x7E), with braces only as one non-empty `{tag}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

impl Key {
    /// Checks `text` against the key rules, with the default length limit.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::parse_at_most(text, MAX_KEY_BYTES)
    }

    /// Checks `text` against the key rules, at most `max_bytes` long.
    pub fn parse_at_most(text: &str, max_bytes: usize) -> Result<Self, String> {
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        if text.len() > max_bytes {
            return Err(format!("must be at most {max_bytes} bytes"));
        }
        if !text.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err("must be printable ASCII without spaces (0x21-0x7E)".into());
        }
        let opens = text.matches('{').count();
        let closes = text.matches('}').count();
        let tag_ok = match (opens, closes) {
            (0, 0) => true,
            (1, 1) => {
                let open = text.find('{').unwrap_or_default();
                let close = text.find('}').unwrap_or_default();
                close > open + 1
            }
            _ => false,
        };
        if !tag_ok {
            return Err("may hold braces only as one non-empty {tag}".into());
        }
        Ok(Self(text.to_owned()))
    }

    /// The key as the caller wrote it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An id: 1–128 characters of `[A-Za-z0-9._:@/-]`, of one kind (a store,
/// a product, a book…): `Id<kind::Store>` and `Id<kind::Product>` are
/// different types, so that the one cannot be passed where the other is
/// meant. `Id` alone is an id of no particular kind.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id<K = kind::Any> {
    text: String,
    kind: PhantomData<fn() -> K>,
}

/// The kinds of names and ids.
pub mod kind {
    macro_rules! kinds {
        ($($(#[$doc:meta])* $kind:ident,)*) => {$(
            $(#[$doc])*
            #[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub enum $kind {}
        )*};
    }

    kinds! {
        /// Of no particular kind.
        Any,
        /// A store of InventoryService.
        Store,
        /// A product of a store.
        Product,
        /// An order of a store.
        Order,
        /// A book of LedgerService.
        Book,
        /// An account of a book.
        Account,
        /// A transfer of a book.
        Transfer,
        /// A counter or quota of CountersService.
        Counter,
        /// A sequence of SequencesService.
        Sequence,
        /// A request's idempotency key.
        Request,
        /// A hash tag of records (RecordsService's journals).
        RecordTag,
        /// Who holds a lease (LeasesService).
        Owner,
    }
}

/// A kind whose ids are hash tags of data with a namespace of its own in
/// the key layout: a store (`inv`), a book (`led`), a counter (`ctr`), a
/// sequence (`seq`).
pub trait Tag {
    /// The namespace after the prefix: `<p>:<namespace>:{<id>}:…`.
    const NAMESPACE: &'static str;
}

impl Tag for kind::Store {
    const NAMESPACE: &'static str = "inv";
}

impl Tag for kind::Book {
    const NAMESPACE: &'static str = "led";
}

impl Tag for kind::Counter {
    const NAMESPACE: &'static str = "ctr";
}

impl Tag for kind::Sequence {
    const NAMESPACE: &'static str = "seq";
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        Self {
            text: self.text.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> Id<K> {
    /// Checks `text` against the id rules.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        if text.len() > MAX_ID_BYTES {
            return Err(format!("must be at most {MAX_ID_BYTES} characters"));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:@/".contains(&b))
        {
            return Err("must use only the characters [A-Za-z0-9._:@/-]".into());
        }
        Ok(Self {
            text: text.to_owned(),
            kind: PhantomData,
        })
    }

    /// An optional id: empty text means none.
    pub fn parse_optional(text: &str) -> Result<Option<Self>, String> {
        if text.is_empty() {
            Ok(None)
        } else {
            Self::parse(text).map(Some)
        }
    }

    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A request's idempotency key.
pub type RequestId = Id<kind::Request>;

/// A whole number of minor units of money, 1 to 2^53−1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Amount(i64);

impl Amount {
    /// Checks `n` is from 1 to 2^53−1.
    pub fn parse(n: i64) -> Result<Self, String> {
        quantity(n, 1).map(Self)
    }

    /// The number of minor units.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A whole number of units — of stock, of a daily quota — from a floor (0
/// for a stock level, 1 for units to add, take or spend) to 2^53−1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Units(i64);

impl Units {
    /// Checks `n` is from `min` to 2^53−1.
    pub fn parse(n: i64, min: i64) -> Result<Self, String> {
        quantity(n, min).map(Self)
    }

    /// The number of units.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

/// Checks a value's size.
pub fn value(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if bytes.len() > MAX_VALUE_BYTES {
        return Err(format!("must be at most {MAX_VALUE_BYTES} bytes"));
    }
    Ok(bytes)
}

/// A whole quantity from `min` to 2^53−1: the range every script holds
/// exactly.
pub fn quantity(n: i64, min: i64) -> Result<i64, String> {
    if n < min || n > MAX_SAFE_INTEGER {
        return Err(format!("must be from {min} to 2^53-1 (9007199254740991)"));
    }
    Ok(n)
}

/// A signed whole number within ±(2^53−1).
pub fn signed(n: i64) -> Result<i64, String> {
    if n.unsigned_abs() > MAX_SAFE_INTEGER.unsigned_abs() {
        return Err("must be within ±(2^53-1) (±9007199254740991)".into());
    }
    Ok(n)
}

/// Free text (a reference, a description): at most `max` characters, none
/// of them control characters.
pub fn text(text: &str, max: usize) -> Result<String, String> {
    if text.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("must not hold control characters".into());
    }
    Ok(text.to_owned())
}

/// A page size: 0 means the default, at most [`MAX_PAGE_SIZE`].
pub fn page_size(n: u32) -> Result<usize, String> {
    match n {
        0 => Ok(DEFAULT_PAGE_SIZE as usize),
        1..=MAX_PAGE_SIZE => Ok(n as usize),
        _ => Err(format!("must be at most {MAX_PAGE_SIZE}")),
    }
}

/// A page token: empty for the first page, else the id of a stream entry
/// (`<ms>-<seq>`, each part a decimal `u64`) as a previous page returned
/// it. Anything else is refused here, so that Redis never sees a token it
/// would reject (`+1-0`, an overflowing part); the token goes on in its
/// canonical spelling (`007-1` as `7-1`).
pub fn page_token(text: &str) -> Result<Option<String>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let part = |digits: &str| {
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse::<u64>().ok())
            .flatten()
    };
    let parsed = text
        .split_once('-')
        .and_then(|(ms, seq)| Some((part(ms)?, part(seq)?)));
    match parsed {
        Some((ms, seq)) => Ok(Some(format!("{ms}-{seq}"))),
        None => Err("is not a token a previous page returned".into()),
    }
}

/// Whether `text` is a decimal number as numeric conditions compare them:
/// `-?[0-9]+(\.[0-9]+)?`.
#[must_use]
pub fn is_decimal(text: &[u8]) -> bool {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let (int, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], Some(&digits[dot + 1..])),
        None => (digits, None),
    };
    let all_digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    all_digits(int) && frac.is_none_or(all_digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys: printable ASCII, one non-empty tag at most, bounded length.
    #[test]
    fn key_rules() {
        for good in [
            "a",
            "user:42",
            "a{tag}b",
            "{t}",
            "~!@#$%^&*()_+=-`|\\;'\",./<>?",
        ] {
            assert!(Key::parse(good).is_ok(), "{good}");
        }
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        for bad in [
            "", "a b", "a{}b", "a{b", "a}b", "{a}{b}", "}a{", "é", "a\tb", &long,
        ] {
            assert!(Key::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Key::parse(&"k".repeat(MAX_KEY_BYTES)).is_ok());
    }

    /// Ids: the documented charset and length.
    #[test]
    fn id_rules() {
        for good in ["a", "order-1", "A.b_c:d@e/f"] {
            assert!(Id::<kind::Any>::parse(good).is_ok(), "{good}");
        }
        let long = "i".repeat(MAX_ID_BYTES + 1);
        for bad in ["", "a b", "a{b}", "a,b", "ü", &long] {
            assert!(Id::<kind::Any>::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Id::<kind::Any>::parse_optional(""), Ok(None));
    }

    /// Page tokens: stream ids in canonical form, nothing else.
    #[test]
    fn page_tokens() {
        assert_eq!(page_token(""), Ok(None));
        assert_eq!(page_token("5-3"), Ok(Some("5-3".into())));
        assert_eq!(page_token("007-01"), Ok(Some("7-1".into())));
        assert_eq!(
            page_token("18446744073709551615-18446744073709551615"),
            Ok(Some("18446744073709551615-18446744073709551615".into()))
        );
        for bad in [
            "+1-0",
            "1-+0",
            "-1-0",
            "1",
            "1-",
            "-1",
            "a-1",
            "1-2-3",
            " 1-2",
            "18446744073709551616-0",
        ] {
            assert!(page_token(bad).is_err(), "{bad}");
        }
    }

    /// Decimals as the numeric conditions of `values_cond_update` read them.
    #[test]
    fn decimals() {
        for good in ["0", "-1", "9007199254740993", "1.5", "-0.25", "007"] {
            assert!(is_decimal(good.as_bytes()), "{good}");
        }
        for bad in [
            "", "-", "1.", ".5", "1e3", "+1", "1.2.3", " 1", "0x10", "--1",
        ] {
            assert!(!is_decimal(bad.as_bytes()), "{bad}");
        }
    }
}
