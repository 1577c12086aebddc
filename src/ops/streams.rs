//! Reading Redis Streams a page at a time, newest first.

use std::{
    collections::HashMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use super::Context;
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Reply, Script},
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
pub(crate) struct Entry {
    pub id: String,
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

    /// The entry's id in the main stream: an entry of a per-product or
    /// per-account stream (`filtered`) carries it in field `id`.
    pub fn main_id(&self, filtered: bool) -> Result<String, Error> {
        if filtered {
            self.text("id")
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

impl Context {
    /// Up to `size` entries of `stream`, newest first, after `token`, each
    /// read by `decode`.
    pub(crate) async fn page<T>(
        &self,
        stream: String,
        token: Option<&str>,
        size: usize,
        deadline: Deadline,
        decode: impl Fn(&Entry) -> Result<T, Error>,
    ) -> Result<Page<T>, Error> {
        // Nothing comes before the first possible id, and Redis refuses to
        // range below it (`XREVRANGE … (0-0` is an error), so a page after
        // it is empty without asking.
        if token == Some("0-0") {
            return Ok(Page {
                items: Vec::new(),
                next_token: None,
            });
        }
        // One more than asked tells whether there is a next page.
        let call = Call::read(Script::StreamsPage)
            .key(stream)
            .arg(token.unwrap_or(""))
            .arg(size + 1);
        let reply = self.redis.eval(&call, deadline).await?;
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
        let next_token = if items.len() > size {
            items.truncate(size);
            items.last().map(|e| e.id.clone())
        } else {
            None
        };
        Ok(Page {
            items: items.iter().map(decode).collect::<Result<_, _>>()?,
            next_token,
        })
    }
}
