//! `rmw.v1.RecordsService`.

use super::{Fields, Rpc, leases, one, serve};
use crate::{
    error::Error,
    ops::{
        DeleteOutcome, DeleteRecord, GetRecord, Limits, Mismatch, PutOutcome, PutRecord, Replied,
        SetJournal, Versioned,
        types::{self, Id, Key, MAX_SAFE_INTEGER},
    },
    proto::v1::{
        self as pb, delete_record_response as delete, put_record_response as put,
        records_service_server::RecordsService,
    },
};

serve! {
  RecordsService {
    get_record(GetRecordRequest);
    put_record(PutRecordRequest);
    delete_record(DeleteRecordRequest);
    enable_journal(EnableJournalRequest);
    disable_journal(DisableJournalRequest);
  }
  streams {
    watch_records(WatchRecordsRequest) -> WatchRecordsStream;
  }
}

impl Rpc for pb::EnableJournalRequest {
    type Op = SetJournal;
    type Reply = pb::EnableJournalResponse;

    fn parse(self, _limits: &Limits) -> Result<SetJournal, Error> {
        let tag = one("tag", Id::parse(&self.tag))?;
        Ok(SetJournal { tag, on: true })
    }

    fn reply(replied: Replied<bool>) -> pb::EnableJournalResponse {
        pb::EnableJournalResponse {
            enabled: replied.outcome,
        }
    }
}

impl Rpc for pb::DisableJournalRequest {
    type Op = SetJournal;
    type Reply = pb::DisableJournalResponse;

    fn parse(self, _limits: &Limits) -> Result<SetJournal, Error> {
        let tag = one("tag", Id::parse(&self.tag))?;
        Ok(SetJournal { tag, on: false })
    }

    fn reply(replied: Replied<bool>) -> pb::DisableJournalResponse {
        pb::DisableJournalResponse {
            disabled: replied.outcome,
        }
    }
}

impl Rpc for pb::GetRecordRequest {
    type Op = GetRecord;
    type Reply = pb::GetRecordResponse;

    fn parse(self, limits: &Limits) -> Result<GetRecord, Error> {
        let key = one("key", Key::parse_at_most(&self.key, limits.max_key_bytes))?;
        Ok(GetRecord { key })
    }

    fn reply(replied: Replied<Versioned>) -> pb::GetRecordResponse {
        let Versioned { version, value } = replied.outcome;
        pb::GetRecordResponse { version, value }
    }
}

impl Rpc for pb::PutRecordRequest {
    type Op = PutRecord;
    type Reply = pb::PutRecordResponse;

    fn parse(self, limits: &Limits) -> Result<PutRecord, Error> {
        let mut f = Fields::new();
        let key = f.take("key", Key::parse_at_most(&self.key, limits.max_key_bytes));
        let value = f.take("value", types::value(self.value));
        let version = f.take("expected_version", version(self.expected_version, 0));
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        let fence = leases::fence(&mut f, self.fence, limits);
        f.finish(|| {
            Some(PutRecord {
                key: key?,
                expected_version: version?,
                value: value?,
                request_id: request_id?,
                fence,
            })
        })
    }

    fn reply(replied: Replied<PutOutcome>) -> pb::PutRecordResponse {
        let outcome = match replied.outcome {
            PutOutcome::Written(version) => put::Outcome::Written(put::Written { version }),
            PutOutcome::Mismatch(m) => put::Outcome::VersionMismatch(mismatch(m)),
            PutOutcome::Fenced(current_token) => put::Outcome::Fenced(pb::Fenced { current_token }),
        };
        pb::PutRecordResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::DeleteRecordRequest {
    type Op = DeleteRecord;
    type Reply = pb::DeleteRecordResponse;

    fn parse(self, limits: &Limits) -> Result<DeleteRecord, Error> {
        let mut f = Fields::new();
        let key = f.take("key", Key::parse_at_most(&self.key, limits.max_key_bytes));
        let version = f.take("expected_version", version(self.expected_version, 1));
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        let fence = leases::fence(&mut f, self.fence, limits);
        f.finish(|| {
            Some(DeleteRecord {
                key: key?,
                expected_version: version?,
                request_id: request_id?,
                fence,
            })
        })
    }

    fn reply(replied: Replied<DeleteOutcome>) -> pb::DeleteRecordResponse {
        let outcome = match replied.outcome {
            DeleteOutcome::Deleted(version) => {
                delete::Outcome::Deleted(delete::Deleted { version })
            }
            DeleteOutcome::Mismatch(m) => delete::Outcome::VersionMismatch(mismatch(m)),
            DeleteOutcome::Fenced(current_token) => {
                delete::Outcome::Fenced(pb::Fenced { current_token })
            }
        };
        pb::DeleteRecordResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

/// An expected version: from `min` to 2^53−1, what a script holds exactly.
fn version(version: u64, min: u64) -> Result<u64, String> {
    if version < min || version > MAX_SAFE_INTEGER.unsigned_abs() {
        return Err(format!("must be from {min} to 2^53-1"));
    }
    Ok(version)
}

fn mismatch(m: Mismatch) -> pb::VersionMismatch {
    pb::VersionMismatch {
        expected: m.expected,
        actual: m.actual,
        current_value: m.current,
    }
}
