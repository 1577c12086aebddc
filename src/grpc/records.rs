//! `rmw.v1.RecordsService`.

use tonic::{Request, Response, Status};

use super::{deadline_of, reply};
use crate::{
    error::{Error, Fields},
    ops::{
        Context, RecordOutcome, RecordWrite,
        types::{self, Id, Key, MAX_SAFE_INTEGER},
    },
    proto::v1::{
        self as pb, delete_record_response as delete, put_record_response as put,
        records_service_server::RecordsService,
    },
};

/// The RecordsService handlers.
pub struct Records {
    cx: Context,
}

impl Records {
    /// Handlers over `cx`.
    #[must_use]
    pub fn new(cx: Context) -> Self {
        Self { cx }
    }
}

#[tonic::async_trait]
impl RecordsService for Records {
    async fn get_record(
        &self,
        request: Request<pb::GetRecordRequest>,
    ) -> Result<Response<pb::GetRecordResponse>, Status> {
        let deadline = deadline_of(&request);
        let key = Key::parse_at_most(&request.get_ref().key, self.cx.limits.max_key_bytes)
            .map_err(|e| Error::invalid("key", e))?;
        let (version, value) = self.cx.get_record(&key, deadline).await?;
        Ok(reply(pb::GetRecordResponse { version, value }))
    }

    async fn put_record(
        &self,
        request: Request<pb::PutRecordRequest>,
    ) -> Result<Response<pb::PutRecordResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let key = f.take(
            "key",
            Key::parse_at_most(&request.key, self.cx.limits.max_key_bytes),
        );
        let value = f.take("value", types::value(request.value));
        let version = f.take("expected_version", version(request.expected_version, 0));
        let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
        let write = f.finish(|| {
            Some(RecordWrite {
                key: key?,
                expected_version: version?,
                value: Some(value?),
                request_id: request_id?,
            })
        })?;
        let replied = self.cx.write_record(&write, deadline).await?;
        let outcome = match replied.outcome {
            RecordOutcome::Written(version) => put::Outcome::Written(put::Written { version }),
            RecordOutcome::Mismatch { actual, current } => {
                put::Outcome::VersionMismatch(mismatch(&write, actual, current))
            }
            RecordOutcome::Deleted(_) => return Err(unexpected().into()),
        };
        Ok(reply(pb::PutRecordResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }

    async fn delete_record(
        &self,
        request: Request<pb::DeleteRecordRequest>,
    ) -> Result<Response<pb::DeleteRecordResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let mut f = Fields::new();
        let key = f.take(
            "key",
            Key::parse_at_most(&request.key, self.cx.limits.max_key_bytes),
        );
        let version = f.take("expected_version", version(request.expected_version, 1));
        let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
        let write = f.finish(|| {
            Some(RecordWrite {
                key: key?,
                expected_version: version?,
                value: None,
                request_id: request_id?,
            })
        })?;
        let replied = self.cx.write_record(&write, deadline).await?;
        let outcome = match replied.outcome {
            RecordOutcome::Deleted(version) => {
                delete::Outcome::Deleted(delete::Deleted { version })
            }
            RecordOutcome::Mismatch { actual, current } => {
                delete::Outcome::VersionMismatch(mismatch(&write, actual, current))
            }
            RecordOutcome::Written(_) => return Err(unexpected().into()),
        };
        Ok(reply(pb::DeleteRecordResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }
}

/// A version from `min` to 2^53−1, the range scripts count exactly.
fn version(version: u64, min: u64) -> Result<u64, String> {
    if version < min || version > MAX_SAFE_INTEGER.unsigned_abs() {
        return Err(format!("must be from {min} to 2^53-1"));
    }
    Ok(version)
}

fn mismatch(write: &RecordWrite, actual: u64, current: Option<Vec<u8>>) -> pb::VersionMismatch {
    pb::VersionMismatch {
        expected: write.expected_version,
        actual,
        current_value: current,
    }
}

fn unexpected() -> Error {
    Error::internal("records", "a write answered as a delete, or the reverse")
}
