//! Versioned records: read, write and delete under optimistic locking.

use super::{
    Context, Replied,
    types::{Key, RequestId},
};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Reply, Script},
};

/// A versioned write or delete.
#[derive(Clone, Debug)]
pub struct RecordWrite {
    /// The record's key.
    pub key: Key,
    /// The version the record must have now (0: absent).
    pub expected_version: u64,
    /// The value to store; `None` deletes.
    pub value: Option<Vec<u8>>,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// What a versioned write or delete did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Written; the new version.
    Written(u64),
    /// Deleted; the version deleted.
    Deleted(u64),
    /// The stored version was another; nothing was written.
    Mismatch {
        /// The version stored (0: absent).
        actual: u64,
        /// The value stored (`None`: absent).
        current: Option<Vec<u8>>,
    },
}

impl Context {
    /// Reads a record: its version (0: absent) and value.
    pub async fn get_record(&self, key: &Key, deadline: Deadline) -> Result<(u64, Vec<u8>), Error> {
        let call = Call::read(Script::RecordsGet).key(self.keys.record(key));
        let reply = self.redis.eval(&call, deadline).await?;
        if reply.tag()? != "record" {
            return Err(reply.unexpected());
        }
        let version = version(&reply, 1)?;
        let value = reply.opt_bytes(2)?.unwrap_or_default();
        Ok((version, value))
    }

    /// Writes (`value` set) or deletes (`value` unset) a record.
    pub async fn write_record(
        &self,
        request: &RecordWrite,
        deadline: Deadline,
    ) -> Result<Replied<RecordOutcome>, Error> {
        let data = self.keys.record(&request.key);
        let record = self.keys.idempotency(&data, request.request_id.as_ref());
        let script = if request.value.is_some() {
            Script::RecordsPut
        } else {
            Script::RecordsDelete
        };
        let mut call = Call::write(
            script,
            record,
            request.request_id.is_some(),
            self.idempotency_ttl,
        )
        .key(data)
        .arg(request.expected_version);
        if let Some(value) = &request.value {
            call = call.arg(value.as_slice());
        }
        let reply = self.redis.eval(&call, deadline).await?;
        let outcome = match reply.tag()? {
            "written" => RecordOutcome::Written(version(&reply, 1)?),
            "deleted" => RecordOutcome::Deleted(version(&reply, 1)?),
            "mismatch" => RecordOutcome::Mismatch {
                actual: version(&reply, 1)?,
                current: reply.opt_bytes(2)?,
            },
            _ => return Err(reply.unexpected()),
        };
        Ok(Replied {
            outcome,
            replayed: reply.replayed,
        })
    }
}

fn version(reply: &Reply, i: usize) -> Result<u64, Error> {
    u64::try_from(reply.int(i)?).map_err(|_| reply.unexpected())
}
