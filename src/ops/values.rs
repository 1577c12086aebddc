//! Plain values: read, compare-and-swap, conditional multi-key update.

use super::{
    Context, Fence,
    binding::{Layout, Operation, Record},
    types::{Key, RequestId},
};
use crate::{
    error::{Error, Invalid, InvalidReason, Violation},
    redis::{Call, Reply, Script, slot::slot},
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
    /// Write only while this lease grant is current.
    pub fence: Option<Fence>,
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
    /// The fence's token is not current; the newest current token (0:
    /// none). Nothing was written.
    Fenced(u64),
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Write only while this lease grant is current.
    pub fence: Option<Fence>,
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
        /// The condition.
        condition: Condition,
        /// The value its key holds (`None`: absent).
        actual: Option<Vec<u8>>,
    },
    /// The fence's token is not current; the newest current token (0:
    /// none). Nothing was written.
    Fenced(u64),
}

/// Reads one value.
#[derive(Clone, Debug)]
pub struct GetValue {
    /// The key.
    pub key: Key,
}

impl Operation for GetValue {
    const SCRIPT: Script = Script::ValuesGet;
    const LAYOUT: Layout = Layout::read(&["the value"], &[]);
    /// The value; `None` when the key does not exist.
    type Outcome = Option<Vec<u8>>;

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.value(&self.key))
    }

    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error> {
        match reply.tag()? {
            "value" => Ok(Some(reply.bytes(1)?)),
            "not_found" => Ok(None),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for CompareAndSwap {
    const SCRIPT: Script = Script::ValuesCas;
    const LAYOUT: Layout = Layout::write(
        &["the value", "the fence's lease"],
        &[
            "the value must equal",
            "the expected value",
            "set the value",
            "the new value",
            "the fence's token",
        ],
    );
    type Outcome = CasOutcome;

    fn check(&self, cx: &Context) -> Result<(), Error> {
        Fence::check(self.fence.as_ref(), cx, &cx.keys.value(&self.key), "key")
    }

    fn record(&self, cx: &Context) -> Option<Record> {
        let data = cx.keys.value(&self.key);
        Some(Record::of_key(&cx.keys, &data, self.request_id.as_ref()))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let (expect_mode, expected) = flag(self.expected.as_deref());
        let (write_mode, new_value) = flag(self.new_value.as_deref());
        let value = cx.keys.value(&self.key);
        let lease = Fence::key(self.fence.as_ref(), cx, &value);
        call.key(value)
            .key(lease)
            .arg(expect_mode)
            .arg(expected)
            .arg(write_mode)
            .arg(new_value)
            .arg(Fence::token(self.fence.as_ref()))
    }

    fn decode(&self, reply: &Reply) -> Result<CasOutcome, Error> {
        if let Some(current) = Fence::refused(reply)? {
            return Ok(CasOutcome::Fenced(current));
        }
        match reply.tag()? {
            "swapped" => Ok(CasOutcome::Swapped),
            "conflict" => Ok(CasOutcome::Conflict {
                current: reply.opt_bytes(1)?,
            }),
            _ => Err(reply.unexpected()),
        }
    }
}

impl ConditionalUpdate {
    fn data_keys<'a>(&'a self, cx: &'a Context) -> impl Iterator<Item = String> + 'a {
        self.conditions
            .iter()
            .map(|c| &c.key)
            .chain(self.writes.iter().map(|w| &w.key))
            .map(|key| cx.keys.value(key))
    }

    /// The field of the first key, as violations name it.
    fn first_field(&self) -> String {
        if self.conditions.is_empty() {
            "writes[0].key".into()
        } else {
            "conditions[0].key".into()
        }
    }
}

impl Operation for ConditionalUpdate {
    const SCRIPT: Script = Script::ValuesCondUpdate;
    const LAYOUT: Layout = Layout::write(
        &["the fence's lease"],
        &[
            "the number of conditions",
            "the number of writes",
            "the fence's token",
        ],
    )
    .lists(
        &["3 .. 2+N", "3+N .. 2+N+M"],
        &["6 .. 5+2N", "6+2N .. 5+2N+2M"],
    );
    type Outcome = UpdateOutcome;

    /// In cluster mode one script can only touch one slot: a request whose
    /// keys hash to several is refused before anything is sent.
    fn check(&self, cx: &Context) -> Result<(), Error> {
        if !cx.cluster {
            return Ok(());
        }
        let anchor = self.data_keys(cx).next().unwrap_or_default();
        Fence::check(self.fence.as_ref(), cx, &anchor, &self.first_field())?;
        let fields = (0..self.conditions.len())
            .map(|i| format!("conditions[{i}].key"))
            .chain((0..self.writes.len()).map(|i| format!("writes[{i}].key")));
        let mut first: Option<(String, u16)> = None;
        for (field, key) in fields.zip(self.data_keys(cx)) {
            let this = slot(&key);
            match &first {
                None => first = Some((field, this)),
                Some((first_field, first_slot)) if *first_slot != this => {
                    return Err(Error::InvalidArgument(Invalid {
                        reason: InvalidReason::CrossSlot,
                        violations: vec![Violation {
                            field,
                            description: format!(
                                "key is in cluster slot {this}, {first_field} in slot {first_slot}: \
                                 keys updated together must share a {{tag}}"
                            ),
                        }],
                    }));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn record(&self, cx: &Context) -> Option<Record> {
        let anchor = self.data_keys(cx).next().unwrap_or_default();
        Some(Record::of_key(&cx.keys, &anchor, self.request_id.as_ref()))
    }

    fn build(&self, cx: &Context, mut call: Call) -> Call {
        let anchor = self.data_keys(cx).next().unwrap_or_default();
        call = call.key(Fence::key(self.fence.as_ref(), cx, &anchor));
        for key in self.data_keys(cx) {
            call = call.key(key);
        }
        call = call
            .arg(self.conditions.len())
            .arg(self.writes.len())
            .arg(Fence::token(self.fence.as_ref()));
        for condition in &self.conditions {
            call = call
                .arg(condition.operator.script_name())
                .arg(condition.operand.as_slice());
        }
        for write in &self.writes {
            let (mode, value) = flag(write.value.as_deref());
            call = call.arg(mode).arg(value);
        }
        call
    }

    fn decode(&self, reply: &Reply) -> Result<UpdateOutcome, Error> {
        if let Some(current) = Fence::refused(reply)? {
            return Ok(UpdateOutcome::Fenced(current));
        }
        match reply.tag()? {
            "applied" => Ok(UpdateOutcome::Applied {
                writes: u32::try_from(reply.int(1)?).map_err(|_| reply.unexpected())?,
            }),
            "failed" => {
                let index = usize::try_from(reply.int(1)?)
                    .ok()
                    .filter(|&i| i < self.conditions.len())
                    .ok_or_else(|| reply.unexpected())?;
                Ok(UpdateOutcome::Failed {
                    index,
                    condition: self.conditions[index].clone(),
                    actual: reply.opt_bytes(2)?,
                })
            }
            _ => Err(reply.unexpected()),
        }
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
