//! `rmw.v1.ValuesService`.

use std::collections::HashMap;

use super::{Fields, Rpc, leases, one, serve};
use crate::{
    error::Error,
    ops::{
        CasOutcome, CompareAndSwap, Condition, ConditionalUpdate, GetValue, Limits, Operator,
        Replied, UpdateOutcome, Write,
        limits::{MAX_CONDITIONS, MAX_WRITES},
        types::{self, Id, Key},
    },
    proto::v1::{
        self as pb, compare_and_swap_response as cas, condition::Operator as PbOperator,
        conditional_update_response as update, get_value_response as get,
        values_service_server::ValuesService,
    },
};

serve! {
  ValuesService {
    get_value(GetValueRequest);
    compare_and_swap(CompareAndSwapRequest);
    conditional_update(ConditionalUpdateRequest);
  }
}

impl Rpc for pb::GetValueRequest {
    type Op = GetValue;
    type Reply = pb::GetValueResponse;

    fn parse(self, limits: &Limits) -> Result<GetValue, Error> {
        let key = one("key", Key::parse_at_most(&self.key, limits.max_key_bytes))?;
        Ok(GetValue { key })
    }

    fn reply(replied: Replied<Option<Vec<u8>>>) -> pb::GetValueResponse {
        let outcome = match replied.outcome {
            Some(value) => get::Outcome::Value(value),
            None => get::Outcome::NotFound(get::NotFound {}),
        };
        pb::GetValueResponse {
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::CompareAndSwapRequest {
    type Op = CompareAndSwap;
    type Reply = pb::CompareAndSwapResponse;

    fn parse(self, limits: &Limits) -> Result<CompareAndSwap, Error> {
        let mut f = Fields::new();
        let key = f.take("key", Key::parse_at_most(&self.key, limits.max_key_bytes));
        let expected = f.take("expected", self.expected.map(types::value).transpose());
        let new_value = f.take("new_value", self.new_value.map(types::value).transpose());
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        let fence = leases::fence(&mut f, self.fence, limits);
        if matches!((&expected, &new_value), (Some(None), Some(None))) {
            f.violate("new_value", "expected or new_value must be set");
        }
        f.finish(|| {
            Some(CompareAndSwap {
                key: key?,
                expected: expected?,
                new_value: new_value?,
                request_id: request_id?,
                fence,
            })
        })
    }

    fn reply(replied: Replied<CasOutcome>) -> pb::CompareAndSwapResponse {
        let outcome = match replied.outcome {
            CasOutcome::Swapped => cas::Outcome::Swapped(cas::Swapped {}),
            CasOutcome::Conflict { current } => cas::Outcome::Conflict(cas::Conflict { current }),
            CasOutcome::Fenced(current_token) => cas::Outcome::Fenced(pb::Fenced { current_token }),
        };
        pb::CompareAndSwapResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::ConditionalUpdateRequest {
    type Op = ConditionalUpdate;
    type Reply = pb::ConditionalUpdateResponse;

    fn parse(self, limits: &Limits) -> Result<ConditionalUpdate, Error> {
        update_request(self, limits)
    }

    fn reply(replied: Replied<UpdateOutcome>) -> pb::ConditionalUpdateResponse {
        let outcome = match replied.outcome {
            UpdateOutcome::Applied { writes } => {
                update::Outcome::Applied(update::Applied { writes })
            }
            UpdateOutcome::Failed {
                index,
                condition,
                actual,
            } => update::Outcome::Failed(update::Failed {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                key: condition.key.to_string(),
                operator: pb_operator(condition.operator).into(),
                expected: condition.operand,
                actual,
            }),
            UpdateOutcome::Fenced(current_token) => {
                update::Outcome::Fenced(pb::Fenced { current_token })
            }
        };
        pb::ConditionalUpdateResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

fn update_request(
    request: pb::ConditionalUpdateRequest,
    limits: &Limits,
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
    let fence = leases::fence(&mut f, request.fence, limits);
    if !f.is_clean() {
        // Items of an oversized request are not worth a violation each.
        return f.finish(|| None);
    }
    let conditions: Vec<Option<Condition>> = request
        .conditions
        .into_iter()
        .enumerate()
        .map(|(i, c)| condition(&mut f, i, c, limits.max_key_bytes))
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
                Key::parse_at_most(&w.key, limits.max_key_bytes),
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
    f.finish(|| {
        Some(ConditionalUpdate {
            conditions: conditions.into_iter().collect::<Option<_>>()?,
            writes: writes.into_iter().collect::<Option<_>>()?,
            request_id: request_id?,
            fence,
        })
    })
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
