//! Reading Redis Streams: a page at a time, newest first (the list
//! RPCs), or what follows a position, oldest first (the watches).

use std::{
    collections::HashMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use super::{
    Context, Replied,
    binding::{Layout, Operation},
};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Reply, Script, field},
};

/// One page of a list, and the token of the next (older) one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The entries, newest first.
    pub items: Vec<T>,
    /// Where the next page starts; `None` at the end.
    pub next_token: Option<String>,
}

/// A stream entry: its id and fields.
#[derive(Debug)]
pub struct Entry {
    /// Its id in the stream read.
    pub id: String,
    /// Its fields, by code ([`field`]).
    pub fields: HashMap<String, Vec<u8>>,
    /// The script that read it, for errors.
    reply: Reply,
}

impl Entry {
    /// Field `name` as text.
    pub fn text(&self, name: &str) -> Result<String, Error> {
        let bytes = self
            .fields
            .get(name)
            .ok_or_else(|| self.reply.unexpected())?;
        String::from_utf8(bytes.clone()).map_err(|_| self.reply.unexpected())
    }

    /// Field `name` as bytes, if the entry has it.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.fields.get(name).map(Vec::as_slice)
    }

    /// Field `name` as an integer.
    pub fn int(&self, name: &str) -> Result<i64, Error> {
        self.text(name)?
            .parse()
            .map_err(|_| self.reply.unexpected())
    }

    /// Field `name` as text, empty if the entry does not have it.
    pub fn text_or_empty(&self, name: &str) -> Result<String, Error> {
        if self.fields.contains_key(name) {
            self.text(name)
        } else {
            Ok(String::new())
        }
    }

    /// Field `name` as an integer, if the entry has it.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, Error> {
        if self.fields.contains_key(name) {
            self.int(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The entry's id in the main stream: an entry of a per-product or
    /// per-account stream (`filtered`) carries it in field `id`.
    fn main_id(&self, filtered: bool) -> Result<String, Error> {
        if filtered {
            self.text(field::ID)
        } else {
            Ok(self.id.clone())
        }
    }

    /// When the entry was added: the millisecond part of its id, which
    /// Redis takes from its own clock.
    pub fn time(&self) -> Result<SystemTime, Error> {
        let ms = self
            .id
            .split_once('-')
            .and_then(|(ms, _)| ms.parse::<u64>().ok())
            .ok_or_else(|| self.reply.unexpected())?;
        Ok(UNIX_EPOCH + Duration::from_millis(ms))
    }
}

/// Reads one page of a stream (`streams_page`).
#[derive(Clone, Debug)]
pub struct ReadPage {
    stream: String,
    token: Option<String>,
    /// Entries to read: one more than the page holds, which tells whether
    /// there is a next page.
    count: usize,
}

impl Operation for ReadPage {
    const SCRIPT: Script = Script::StreamsPage;
    const LAYOUT: Layout = Layout::read(
        &["the stream"],
        &["the last entry of the previous page", "at most"],
    );
    /// The entries, newest first.
    type Outcome = Vec<Entry>;

    fn build(&self, _cx: &Context, call: Call) -> Call {
        call.key(self.stream.clone())
            .arg(self.token.as_deref().unwrap_or(""))
            .arg(self.count)
    }

    fn decode(&self, reply: &Reply) -> Result<Vec<Entry>, Error> {
        if reply.tag()? != "page" {
            return Err(reply.unexpected());
        }
        entries(reply, 1)
    }
}

/// The entries of `reply` from position `from` on: each `{id, {field,
/// value, ...}}`.
fn entries(reply: &Reply, from: usize) -> Result<Vec<Entry>, Error> {
    let mut items = Vec::with_capacity(reply.len().saturating_sub(from));
    for i in from..reply.len() {
        let entry = reply.nested(i)?;
        let id = entry.text(0)?;
        let list = entry.nested(1)?;
        let mut fields = HashMap::with_capacity(list.len() / 2);
        for j in (0..list.len()).step_by(2) {
            fields.insert(list.text(j)?, list.bytes(j + 1)?);
        }
        items.push(Entry {
            id,
            fields,
            reply: entry,
        });
    }
    Ok(items)
}

impl Context {
    /// Up to `size` entries of `stream`, newest first, after `token`, each
    /// read by `decode` with its id in the main stream (`filtered`: this is
    /// a per-product or per-account copy, which carries that id in a
    /// field).
    pub(crate) async fn page<T>(
        &self,
        (stream, filtered): (String, bool),
        token: Option<&str>,
        size: usize,
        deadline: Deadline,
        decode: impl Fn(&Entry, String) -> Result<T, Error>,
    ) -> Result<Replied<Page<T>>, Error> {
        // Nothing comes before the first possible id, and Redis refuses to
        // range below it (`XREVRANGE … (0-0` is an error), so a page after
        // it is empty without asking.
        if token == Some("0-0") {
            return Ok(Replied::fresh(Page {
                items: Vec::new(),
                next_token: None,
            }));
        }
        let read = ReadPage {
            stream,
            token: token.map(str::to_owned),
            count: size + 1,
        };
        let mut items = self.run(&read, deadline).await?.outcome;
        let next_token = if items.len() > size {
            items.truncate(size);
            items.last().map(|e| e.id.clone())
        } else {
            None
        };
        let items = items
            .iter()
            .map(|entry| decode(entry, entry.main_id(filtered)?))
            .collect::<Result<_, _>>()?;
        Ok(Replied::fresh(Page { items, next_token }))
    }
}

/// A stream entry id, `<ms>-<seq>`: ordered as Redis orders them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds of Redis's clock when it was added.
    pub ms: u64,
    /// Its sequence within that millisecond.
    pub seq: u64,
}

impl StreamId {
    /// Before every entry (`0-0`).
    pub const ZERO: Self = Self { ms: 0, seq: 0 };

    /// `<ms>-<seq>`, each a decimal u64.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Where a read of what follows starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// After this id (exclusive); `0-0`: from the oldest entry kept.
    Id(StreamId),
    /// Nowhere: only where the stream ends now.
    End,
}

/// Reads the entries of a stream after a position, oldest first
/// (`streams_after`), and what the stream no longer keeps.
#[derive(Clone, Debug)]
pub struct ReadAfter {
    /// The stream.
    pub stream: String,
    /// Where to start.
    pub after: After,
    /// At most this many entries.
    pub count: usize,
}

/// What [`ReadAfter`] found.
#[derive(Debug)]
pub struct Following {
    /// Whether the stream exists.
    pub exists: bool,
    /// The newest id the stream ever had (`0-0`: none).
    pub last: StreamId,
    /// How many entries it no longer keeps (its retention trimmed them,
    /// oldest first).
    pub dropped: u64,
    /// The oldest id it keeps, if any.
    pub first: Option<StreamId>,
    /// The entries after the position, oldest first.
    pub entries: Vec<Entry>,
}

impl Following {
    /// Whether entries after `position` may be gone unread: the stream
    /// dropped some, and `position` is older than everything it keeps.
    /// (Trimming leaves no trace of the newest entry it dropped, so a
    /// position that was exactly that entry is told too.)
    #[must_use]
    pub fn trimmed_after(&self, position: StreamId) -> bool {
        self.dropped > 0
            && self
                .first
                .map_or(position < self.last, |first| position < first)
    }
}

impl Operation for ReadAfter {
    const SCRIPT: Script = Script::StreamsAfter;
    const LAYOUT: Layout = Layout::read(&["the stream"], &["the position", "at most"]);
    type Outcome = Following;

    fn build(&self, _cx: &Context, call: Call) -> Call {
        let position = match self.after {
            After::Id(id) => id.to_string(),
            After::End => "$".to_owned(),
        };
        call.key(self.stream.clone()).arg(position).arg(self.count)
    }

    fn decode(&self, reply: &Reply) -> Result<Following, Error> {
        if reply.tag()? != "after" || reply.len() < 5 {
            return Err(reply.unexpected());
        }
        let id = |i: usize| StreamId::parse(&reply.text(i)?).ok_or_else(|| reply.unexpected());
        let first = reply.text(4)?;
        let first = if first.is_empty() {
            None
        } else {
            Some(StreamId::parse(&first).ok_or_else(|| reply.unexpected())?)
        };
        Ok(Following {
            exists: reply.int(1)? == 1,
            last: id(2)?,
            dropped: u64::try_from(reply.int(3)?).map_err(|_| reply.unexpected())?,
            first,
            entries: entries(reply, 5)?,
        })
    }
}
