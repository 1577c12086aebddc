//! `rmw.v1.ValuesService`.

use std::collections::HashMap;

use tonic::{Request, Response, Status};

use super::{deadline_of, reply};
use crate::{
    error::{Error, Fields, Invalid, InvalidReason, Violation},
    ops::{
        CasOutcome, CompareAndSwap, Condition, ConditionalUpdate, Context, Operator, UpdateOutcome,
        Write,
        types::{self, Id, Key},
    },
    proto::v1::{
        self as pb, compare_and_swap_response as cas, condition::Operator as PbOperator,
        conditional_update_response as update, get_value_response as get,
        values_service_server::ValuesService,
    },
    redis::slot::slot,
};

/// Most conditions, and most writes, in one ConditionalUpdate.
pub const MAX_CONDITIONS: usize = 64;
/// Most writes in one ConditionalUpdate.
pub const MAX_WRITES: usize = 64;

/// The ValuesService handlers.
pub struct Values {
    cx: Context,
}

impl Values {
    /// Handlers over `cx`.
    #[must_use]
    pub fn new(cx: Context) -> Self {
        Self { cx }
    }
}

#[tonic::async_trait]
impl ValuesService for Values {
    async fn get_value(
        &self,
        request: Request<pb::GetValueRequest>,
    ) -> Result<Response<pb::GetValueResponse>, Status> {
        let deadline = deadline_of(&request);
        let key = Key::parse_at_most(&request.get_ref().key, self.cx.limits.max_key_bytes)
            .map_err(|e| Error::invalid("key", e))?;
        let outcome = match self.cx.get_value(&key, deadline).await? {
            Some(value) => get::Outcome::Value(value),
            None => get::Outcome::NotFound(get::NotFound {}),
        };
        Ok(reply(pb::GetValueResponse {
            outcome: Some(outcome),
        }))
    }

    async fn compare_and_swap(
        &self,
        request: Request<pb::CompareAndSwapRequest>,
    ) -> Result<Response<pb::CompareAndSwapResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = cas_request(request.into_inner(), self.cx.limits.max_key_bytes)?;
        let replied = self.cx.compare_and_swap(&request, deadline).await?;
        let outcome = match replied.outcome {
            CasOutcome::Swapped => cas::Outcome::Swapped(cas::Swapped {}),
            CasOutcome::Conflict { current } => cas::Outcome::Conflict(cas::Conflict { current }),
        };
        Ok(reply(pb::CompareAndSwapResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }

    async fn conditional_update(
        &self,
        request: Request<pb::ConditionalUpdateRequest>,
    ) -> Result<Response<pb::ConditionalUpdateResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = update_request(request.into_inner(), &self.cx)?;
        let replied = self.cx.conditional_update(&request, deadline).await?;
        let outcome = match replied.outcome {
            UpdateOutcome::Applied { writes } => {
                update::Outcome::Applied(update::Applied { writes })
            }
            UpdateOutcome::Failed { index, actual } => {
                let condition = &request.conditions[index];
                update::Outcome::Failed(update::Failed {
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    key: condition.key.to_string(),
                    operator: pb_operator(condition.operator).into(),
                    expected: condition.operand.clone(),
                    actual,
                })
            }
        };
        Ok(reply(pb::ConditionalUpdateResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }))
    }
}

fn cas_request(
    request: pb::CompareAndSwapRequest,
    max_key_bytes: usize,
) -> Result<CompareAndSwap, Error> {
    let mut f = Fields::new();
    let key = f.take("key", Key::parse_at_most(&request.key, max_key_bytes));
    let expected = f.take("expected", request.expected.map(types::value).transpose());
    let new_value = f.take("new_value", request.new_value.map(types::value).transpose());
    let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
    if matches!((&expected, &new_value), (Some(None), Some(None))) {
        f.violate("new_value", "expected or new_value must be set");
    }
    f.finish(|| {
        Some(CompareAndSwap {
            key: key?,
            expected: expected?,
            new_value: new_value?,
            request_id: request_id?,
        })
    })
}

fn update_request(
    request: pb::ConditionalUpdateRequest,
    cx: &Context,
) -> Result<ConditionalUpdate, Error> {
    let mut f = Fields::new();
    if request.conditions.is_empty() && request.writes.is_empty() {
        f.violate("writes", "a request needs at least one condition or write");
    }
    if request.conditions.len() > MAX_CONDITIONS {
        f.violate("conditions", format!("at most {MAX_CONDITIONS} conditions"));
    }
    if request.writes.len() > MAX_WRITES {
        f.violate("writes", format!("at most {MAX_WRITES} writes"));
    }
    let request_id = f.take("request_id", Id::parse_optional(&request.request_id));
    if !f.is_clean() {
        // Items of an oversized request are not worth a violation each.
        return f.finish(|| None);
    }
    let conditions: Vec<Option<Condition>> = request
        .conditions
        .into_iter()
        .enumerate()
        .map(|(i, c)| condition(&mut f, i, c, cx.limits.max_key_bytes))
        .collect();
    let mut first_write: HashMap<String, usize> = HashMap::new();
    let writes: Vec<Option<Write>> = request
        .writes
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            if let Some(&first) = first_write.get(&w.key) {
                f.violate(
                    format_args!("writes[{i}].key"),
                    format!("key written twice in one request (first at writes[{first}])"),
                );
            } else {
                first_write.insert(w.key.clone(), i);
            }
            let key = f.take(
                format_args!("writes[{i}].key"),
                Key::parse_at_most(&w.key, cx.limits.max_key_bytes),
            );
            let value = f.take(
                format_args!("writes[{i}].value"),
                w.value.map(types::value).transpose(),
            );
            Some(Write {
                key: key?,
                value: value?,
            })
        })
        .collect();
    let request = f.finish(|| {
        Some(ConditionalUpdate {
            conditions: conditions.into_iter().collect::<Option<_>>()?,
            writes: writes.into_iter().collect::<Option<_>>()?,
            request_id: request_id?,
        })
    })?;
    if cx.cluster {
        check_one_slot(&request, cx)?;
    }
    Ok(request)
}

fn condition(
    f: &mut Fields,
    i: usize,
    condition: pb::Condition,
    max_key_bytes: usize,
) -> Option<Condition> {
    let key = f.take(
        format_args!("conditions[{i}].key"),
        Key::parse_at_most(&condition.key, max_key_bytes),
    );
    let operator = f.take(
        format_args!("conditions[{i}].operator"),
        operator(condition.operator),
    );
    let operand = f.take(
        format_args!("conditions[{i}].operand"),
        types::value(condition.operand),
    );
    let (operator, operand) = (operator?, operand?);
    let field = format_args!("conditions[{i}].operand");
    if operator.is_numeric() && !types::is_decimal(&operand) {
        f.violate(
            field,
            "a numeric operator needs a decimal operand (-?[0-9]+(.[0-9]+)?)",
        );
        return None;
    }
    if operator.is_unary() && !operand.is_empty() {
        f.violate(field, "EXISTS and NOT_EXISTS take no operand");
        return None;
    }
    Some(Condition {
        key: key?,
        operator,
        operand,
    })
}

fn operator(value: i32) -> Result<Operator, String> {
    match PbOperator::try_from(value) {
        Ok(PbOperator::Eq) => Ok(Operator::Eq),
        Ok(PbOperator::Ne) => Ok(Operator::Ne),
        Ok(PbOperator::Gt) => Ok(Operator::Gt),
        Ok(PbOperator::Gte) => Ok(Operator::Gte),
        Ok(PbOperator::Lt) => Ok(Operator::Lt),
        Ok(PbOperator::Lte) => Ok(Operator::Lte),
        Ok(PbOperator::Exists) => Ok(Operator::Exists),
        Ok(PbOperator::NotExists) => Ok(Operator::NotExists),
        Ok(PbOperator::Unspecified) => Err("must be set".into()),
        Err(_) => Err(format!("unknown operator {value}")),
    }
}

fn pb_operator(operator: Operator) -> PbOperator {
    match operator {
        Operator::Eq => PbOperator::Eq,
        Operator::Ne => PbOperator::Ne,
        Operator::Gt => PbOperator::Gt,
        Operator::Gte => PbOperator::Gte,
        Operator::Lt => PbOperator::Lt,
        Operator::Lte => PbOperator::Lte,
        Operator::Exists => PbOperator::Exists,
        Operator::NotExists => PbOperator::NotExists,
    }
}

/// In cluster mode one script can only touch one slot: a request whose keys
/// hash to several is refused before anything is sent.
fn check_one_slot(request: &ConditionalUpdate, cx: &Context) -> Result<(), Error> {
    let fields = request
        .conditions
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("conditions[{i}].key"), &c.key))
        .chain(
            request
                .writes
                .iter()
                .enumerate()
                .map(|(i, w)| (format!("writes[{i}].key"), &w.key)),
        );
    let mut first: Option<(String, u16)> = None;
    for (field, key) in fields {
        let this = slot(&cx.keys.value(key));
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
