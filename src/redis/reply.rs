//! Decoding script replies.
//!
//! Every script replies with an array whose first element is a tag naming
//! the outcome (`{'swapped'}`, `{'conflict', current}`…), as its header
//! documents. Anything else is a bug, reported as an internal error that
//! names the script.

use redis::Value;

use super::Script;
use crate::error::Error;

/// A script's reply: its tag, its fields, and whether it was replayed from
/// an idempotency record.
#[derive(Debug)]
pub struct Reply {
    script: Script,
    items: Vec<Value>,
    /// True when the reply is the stored answer to an earlier request.
    pub replayed: bool,
}

impl Reply {
    /// Unwraps the prelude's replies: a replay becomes the stored reply
    /// marked `replayed`; a reused request id becomes its error.
    pub(crate) fn decode(script: Script, value: Value) -> Result<Self, Error> {
        let mut reply = Self {
            script,
            items: array(script, value)?,
            replayed: false,
        };
        match reply.tag()? {
            "request_id_reused" => Err(Error::RequestIdReused),
            "replayed" => {
                let stored = reply.items.pop().filter(|_| reply.items.len() == 1);
                let stored = stored.ok_or_else(|| reply.unexpected())?;
                Ok(Self {
                    script,
                    items: array(script, stored)?,
                    replayed: true,
                })
            }
            _ => Ok(reply),
        }
    }

    /// The outcome's tag.
    pub fn tag(&self) -> Result<&str, Error> {
        match self.items.first() {
            Some(Value::BulkString(tag)) => std::str::from_utf8(tag).map_err(|_| self.unexpected()),
            _ => Err(self.unexpected()),
        }
    }

    /// The number of items, tag included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the reply is empty (it never is once decoded).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Item `i` as an integer.
    pub fn int(&self, i: usize) -> Result<i64, Error> {
        match self.items.get(i) {
            Some(Value::Int(n)) => Ok(*n),
            _ => Err(self.unexpected()),
        }
    }

    /// Item `i` as bytes.
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, Error> {
        self.opt_bytes(i)?.ok_or_else(|| self.unexpected())
    }

    /// Item `i` as bytes, or `None` when the reply ends before it.
    pub fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, Error> {
        match self.items.get(i) {
            None => Ok(None),
            Some(Value::BulkString(bytes)) => Ok(Some(bytes.clone())),
            Some(_) => Err(self.unexpected()),
        }
    }

    /// Item `i` as UTF-8 text.
    pub fn text(&self, i: usize) -> Result<String, Error> {
        String::from_utf8(self.bytes(i)?).map_err(|_| self.unexpected())
    }

    /// Item `i` as a nested array, decoded like a reply.
    pub fn nested(&self, i: usize) -> Result<Reply, Error> {
        match self.items.get(i) {
            Some(value) => Ok(Self {
                script: self.script,
                items: array(self.script, value.clone())?,
                replayed: self.replayed,
            }),
            None => Err(self.unexpected()),
        }
    }

    /// The error for a reply this code does not understand.
    #[must_use]
    pub fn unexpected(&self) -> Error {
        Error::internal(
            self.script.name(),
            format!("unexpected reply {:?}", self.items),
        )
    }
}

fn array(script: Script, value: Value) -> Result<Vec<Value>, Error> {
    match value {
        Value::Array(items) if !items.is_empty() => Ok(items),
        other => Err(Error::internal(
            script.name(),
            format!("unexpected reply {other:?}"),
        )),
    }
}
