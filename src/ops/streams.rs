//! Reading Redis Streams a page at a time, newest first.

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

    /// Field `name` as an integer.
    pub fn int(&self, name: &str) -> Result<i64, Error> {
        self.text(name)?
            .parse()
            .map_err(|_| self.reply.unexpected())
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
        let mut items = Vec::with_capacity(reply.len() - 1);
        for i in 1..reply.len() {
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
