//! Versioned records: read, write and delete under optimistic locking.

use super::{
    Context, Fence,
    binding::{Layout, Operation, Record},
    types::{Id, Key, RequestId, kind::RecordTag},
};
use crate::{
    error::Error,
    ops::streams::Entry,
    redis::{Call, Reply, Script, field},
};

/// Reads a record.
#[derive(Clone, Debug)]
pub struct GetRecord {
    /// The record's key.
    pub key: Key,
}

/// A record as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// Its version (0: absent).
    pub version: u64,
    /// Its value (empty when absent).
    pub value: Vec<u8>,
}

/// Writes a record if it has the version expected.
#[derive(Clone, Debug)]
pub struct PutRecord {
    /// The record's key.
    pub key: Key,
    /// The version the record must have now (0: absent).
    pub expected_version: u64,
    /// The value to store.
    pub value: Vec<u8>,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
    /// Write only while this lease grant is current.
    pub fence: Option<Fence>,
}

/// Deletes a record if it has the version expected.
#[derive(Clone, Debug)]
pub struct DeleteRecord {
    /// The record's key.
    pub key: Key,
    /// The version the record must have now, at least 1.
    pub expected_version: u64,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
    /// Delete only while this lease grant is current.
    pub fence: Option<Fence>,
}

/// The stored version was another; nothing was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The version the caller expected.
    pub expected: u64,
    /// The version stored (0: absent).
    pub actual: u64,
    /// The value stored (`None`: absent).
    pub current: Option<Vec<u8>>,
}

/// What a versioned write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written; the new version.
    Written(u64),
    /// Another version is stored.
    Mismatch(Mismatch),
    /// The fence's token is not current; the newest current token (0:
    /// none). Nothing was written.
    Fenced(u64),
}

/// What a versioned delete did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Deleted; the version deleted.
    Deleted(u64),
    /// Another version is stored.
    Mismatch(Mismatch),
    /// The fence's token is not current; the newest current token (0:
    /// none). Nothing was deleted.
    Fenced(u64),
}

/// The record, as every records script names it.
const RECORD: &[&str] = &["the record"];
/// The keys of `records_put` and `records_delete`.
const WRITE_KEYS: &[&str] = &[
    "the record",
    "the revision",
    "the change journal",
    "the fence's lease",
];

impl Operation for GetRecord {
    const SCRIPT: Script = Script::RecordsGet;
    const LAYOUT: Layout = Layout::read(RECORD, &[]);
    type Outcome = Versioned;

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.record(&self.key))
    }

    fn decode(&self, reply: &Reply) -> Result<Versioned, Error> {
        if reply.tag()? != "record" {
            return Err(reply.unexpected());
        }
        Ok(Versioned {
            version: version(reply, 1)?,
            value: reply.opt_bytes(2)?.unwrap_or_default(),
        })
    }
}

impl Operation for PutRecord {
    const SCRIPT: Script = Script::RecordsPut;
    const LAYOUT: Layout = Layout::write(
        WRITE_KEYS,
        &[
            "the journal's retention",
            "the expected version",
            "the value",
            "the fence's token",
        ],
    );
    type Outcome = PutOutcome;

    fn check(&self, cx: &Context) -> Result<(), Error> {
        Fence::check(self.fence.as_ref(), cx, &cx.keys.record(&self.key), "key")
    }

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(write_record(cx, &self.key, self.request_id.as_ref()))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        write_keys(cx, &self.key, self.fence.as_ref(), call)
            .arg(self.expected_version)
            .arg(self.value.as_slice())
            .arg(Fence::token(self.fence.as_ref()))
    }

    fn decode(&self, reply: &Reply) -> Result<PutOutcome, Error> {
        if let Some(current) = Fence::refused(reply)? {
            return Ok(PutOutcome::Fenced(current));
        }
        match reply.tag()? {
            "written" => Ok(PutOutcome::Written(version(reply, 1)?)),
            "mismatch" => Ok(PutOutcome::Mismatch(mismatch(
                reply,
                self.expected_version,
            )?)),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for DeleteRecord {
    const SCRIPT: Script = Script::RecordsDelete;
    const LAYOUT: Layout = Layout::write(
        WRITE_KEYS,
        &[
            "the journal's retention",
            "the expected version",
            "the fence's token",
        ],
    );
    type Outcome = DeleteOutcome;

    fn check(&self, cx: &Context) -> Result<(), Error> {
        Fence::check(self.fence.as_ref(), cx, &cx.keys.record(&self.key), "key")
    }

    fn record(&self, cx: &Context) -> Option<Record> {
        Some(write_record(cx, &self.key, self.request_id.as_ref()))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        write_keys(cx, &self.key, self.fence.as_ref(), call)
            .arg(self.expected_version)
            .arg(Fence::token(self.fence.as_ref()))
    }

    fn decode(&self, reply: &Reply) -> Result<DeleteOutcome, Error> {
        if let Some(current) = Fence::refused(reply)? {
            return Ok(DeleteOutcome::Fenced(current));
        }
        match reply.tag()? {
            "deleted" => Ok(DeleteOutcome::Deleted(version(reply, 1)?)),
            "mismatch" => Ok(DeleteOutcome::Mismatch(mismatch(
                reply,
                self.expected_version,
            )?)),
            _ => Err(reply.unexpected()),
        }
    }
}

/// The idempotency record of a write or delete of `key`.
fn write_record(cx: &Context, key: &Key, request_id: Option<&RequestId>) -> Record {
    Record::of_key(&cx.keys, &cx.keys.record(key), request_id)
}

/// The keys and settings `records_put` and `records_delete` start with:
/// the record, its revision, its tag's journal, the fence's lease, the
/// journal's retention.
fn write_keys(cx: &Context, key: &Key, fence: Option<&Fence>, call: Call) -> Call {
    let record = cx.keys.record(key);
    let revision = cx.keys.revision(&record);
    let journal = cx.keys.record_journal(&record);
    let lease = Fence::key(fence, cx, &record);
    call.key(record)
        .key(revision)
        .key(journal)
        .key(lease)
        .setting(cx.journal_retention.to_string())
}

/// A put or a delete of a record, as its tag's journal has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordChange {
    /// Its id in the journal.
    pub id: String,
    /// A put (true) or a delete.
    pub put: bool,
    /// The record's key.
    pub key: String,
    /// The version written or deleted.
    pub version: u64,
    /// The value written (empty for a delete).
    pub value: Vec<u8>,
    /// When, by Redis's clock.
    pub time: std::time::SystemTime,
}

impl RecordChange {
    /// The change a journal entry records.
    pub(crate) fn read(entry: &Entry, id: String) -> Result<Self, Error> {
        let put = match entry.text(field::KIND)?.as_str() {
            "put" => true,
            "delete" => false,
            _ => return Err(Error::internal("streams", "unknown record change kind")),
        };
        Ok(Self {
            id,
            put,
            key: entry.text(field::KEY)?,
            version: u64::try_from(entry.int(field::VERSION)?)
                .map_err(|_| Error::internal("streams", "negative record version"))?,
            value: entry.bytes(field::VALUE).unwrap_or_default().to_vec(),
            time: entry.time()?,
        })
    }
}

/// Turns a tag's change journal on or off.
#[derive(Clone, Debug)]
pub struct SetJournal {
    /// The records' hash tag.
    pub tag: Id<RecordTag>,
    /// On (true) or off.
    pub on: bool,
}

impl Operation for SetJournal {
    const SCRIPT: Script = Script::RecordsJournal;
    // Not idempotent by request id, and needs not be: turning a journal on
    // (off) twice leaves it on (off), and the second says it changed
    // nothing.
    const LAYOUT: Layout = Layout::read(&["the journal"], &["'on' or 'off'"]);
    /// Whether it changed anything.
    type Outcome = bool;

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.journal(&self.tag))
            .arg(if self.on { "on" } else { "off" })
    }

    fn decode(&self, reply: &Reply) -> Result<bool, Error> {
        if reply.tag()? != "journal" {
            return Err(reply.unexpected());
        }
        Ok(reply.int(1)? == 1)
    }
}

fn mismatch(reply: &Reply, expected: u64) -> Result<Mismatch, Error> {
    Ok(Mismatch {
        expected,
        actual: version(reply, 1)?,
        current: reply.opt_bytes(2)?,
    })
}

fn version(reply: &Reply, i: usize) -> Result<u64, Error> {
    u64::try_from(reply.int(i)?).map_err(|_| reply.unexpected())
}
