//! Plain values: read, compare-and-swap, conditional multi-key update.

use super::{
    Context, Replied,
    types::{Key, RequestId},
};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Script},
};

/// Sets or deletes a value if it holds what the caller expects.
#[derive(Clone, Debug)]
pub struct CompareAndSwap {
    /// The key.
    pub key: Key,
    /// The value expected now; `None`: the key must not exist.
    pub expected: Option<Vec<u8>>,
    /// The value to store; `None`: delete the key.
    pub new_value: Option<Vec<u8>>,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// What a compare-and-swap did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// The value was swapped.
    Swapped,
    /// The value differs from the expected one (`None`: absent).
    Conflict {
        /// The value stored now.
        current: Option<Vec<u8>>,
    },
}

/// How a condition compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// Byte-equal.
    Eq,
    /// Not byte-equal.
    Ne,
    /// Numerically greater.
    Gt,
    /// Numerically greater or equal.
    Gte,
    /// Numerically less.
    Lt,
    /// Numerically less or equal.
    Lte,
    /// The key exists.
    Exists,
    /// The key does not exist.
    NotExists,
}

impl Operator {
    /// The operator's name in `values_cond_update.lua`.
    fn script_name(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
            Self::Exists => "exists",
            Self::NotExists => "not_exists",
        }
    }

    /// Whether the operator compares numbers.
    #[must_use]
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Gt | Self::Gte | Self::Lt | Self::Lte)
    }

    /// Whether the operator takes no operand.
    #[must_use]
    pub fn is_unary(self) -> bool {
        matches!(self, Self::Exists | Self::NotExists)
    }
}

/// A check made before any write.
#[derive(Clone, Debug)]
pub struct Condition {
    /// The key checked.
    pub key: Key,
    /// The comparison.
    pub operator: Operator,
    /// What the stored value is compared with.
    pub operand: Vec<u8>,
}

/// A write applied when every condition holds.
#[derive(Clone, Debug)]
pub struct Write {
    /// The key written.
    pub key: Key,
    /// The value to store; `None`: delete.
    pub value: Option<Vec<u8>>,
}

/// Conditions, then writes, all or nothing.
#[derive(Clone, Debug)]
pub struct ConditionalUpdate {
    /// Checked in order.
    pub conditions: Vec<Condition>,
    /// Applied in order if every condition holds; each key once.
    pub writes: Vec<Write>,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// What a conditional update did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Every write was applied.
    Applied {
        /// How many.
        writes: u32,
    },
    /// Condition `index` failed; nothing was written.
    Failed {
        /// Its index in the request.
        index: usize,
        /// The value its key holds (`None`: absent).
        actual: Option<Vec<u8>>,
    },
}

impl Context {
    /// Reads one value; `None` when the key does not exist.
    pub async fn get_value(&self, key: &Key, deadline: Deadline) -> Result<Option<Vec<u8>>, Error> {
        let call = Call::read(Script::ValuesGet).key(self.keys.value(key));
        let reply = self.redis.eval(&call, deadline).await?;
        match reply.tag()? {
            "value" => Ok(Some(reply.bytes(1)?)),
            "not_found" => Ok(None),
            _ => Err(reply.unexpected()),
        }
    }

    /// Runs a compare-and-swap.
    pub async fn compare_and_swap(
        &self,
        request: &CompareAndSwap,
        deadline: Deadline,
    ) -> Result<Replied<CasOutcome>, Error> {
        let data = self.keys.value(&request.key);
        let record = self.keys.idempotency(&data, request.request_id.as_ref());
        let (expect_mode, expected) = flag(request.expected.as_deref());
        let (write_mode, new_value) = flag(request.new_value.as_deref());
        let call = Call::write(
            Script::ValuesCas,
            record,
            request.request_id.is_some(),
            self.idempotency_ttl,
        )
        .key(data)
        .arg(expect_mode)
        .arg(expected)
        .arg(write_mode)
        .arg(new_value);
        let reply = self.redis.eval(&call, deadline).await?;
        let outcome = match reply.tag()? {
            "swapped" => CasOutcome::Swapped,
            "conflict" => CasOutcome::Conflict {
                current: reply.opt_bytes(1)?,
            },
            _ => return Err(reply.unexpected()),
        };
        Ok(Replied {
            outcome,
            replayed: reply.replayed,
        })
    }

    /// Runs a conditional update.
    pub async fn conditional_update(
        &self,
        request: &ConditionalUpdate,
        deadline: Deadline,
    ) -> Result<Replied<UpdateOutcome>, Error> {
        let data_keys: Vec<String> = request
            .conditions
            .iter()
            .map(|c| &c.key)
            .chain(request.writes.iter().map(|w| &w.key))
            .map(|key| self.keys.value(key))
            .collect();
        let anchor = data_keys.first().map_or("", String::as_str);
        let record = self.keys.idempotency(anchor, request.request_id.as_ref());
        let mut call = Call::write(
            Script::ValuesCondUpdate,
            record,
            request.request_id.is_some(),
            self.idempotency_ttl,
        );
        for key in data_keys {
            call = call.key(key);
        }
        call = call.arg(request.conditions.len()).arg(request.writes.len());
        for condition in &request.conditions {
            call = call
                .arg(condition.operator.script_name())
                .arg(condition.operand.as_slice());
        }
        for write in &request.writes {
            let (mode, value) = flag(write.value.as_deref());
            call = call.arg(mode).arg(value);
        }
        let reply = self.redis.eval(&call, deadline).await?;
        let outcome = match reply.tag()? {
            "applied" => UpdateOutcome::Applied {
                writes: u32::try_from(reply.int(1)?).map_err(|_| reply.unexpected())?,
            },
            "failed" => UpdateOutcome::Failed {
                index: usize::try_from(reply.int(1)?)
                    .ok()
                    .filter(|&i| i < request.conditions.len())
                    .ok_or_else(|| reply.unexpected())?,
                actual: reply.opt_bytes(2)?,
            },
            _ => return Err(reply.unexpected()),
        };
        Ok(Replied {
            outcome,
            replayed: reply.replayed,
        })
    }
}

/// An optional value as the scripts take it: a `'1'`/`'0'` flag and the
/// value (empty when absent).
fn flag(value: Option<&[u8]>) -> (&'static str, &[u8]) {
    match value {
        Some(value) => ("1", value),
        None => ("0", b""),
    }
}
