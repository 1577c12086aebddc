//! ValuesService/ConditionalUpdate: every operator, exact numbers, all or
//! nothing, and the request rules.

use rmw::proto::v1::{
    CompareAndSwapRequest, Condition, ConditionalUpdateRequest, GetValueRequest, Write,
    condition::Operator::{self, Eq, Exists, Gt, Gte, Lt, Lte, Ne, NotExists, Unspecified},
    conditional_update_response as update, get_value_response as get,
};

use crate::common::{Env, assert_invalid};

fn cond(key: &str, operator: Operator, operand: &str) -> Condition {
    Condition {
        key: key.into(),
        operator: operator.into(),
        operand: operand.as_bytes().to_vec(),
    }
}

fn set(key: &str, value: &str) -> Write {
    Write {
        key: key.into(),
        value: Some(value.as_bytes().to_vec()),
    }
}

fn delete(key: &str) -> Write {
    Write {
        key: key.into(),
        value: None,
    }
}

fn request(conditions: Vec<Condition>, writes: Vec<Write>) -> ConditionalUpdateRequest {
    ConditionalUpdateRequest {
        conditions,
        writes,
        request_id: String::new(),
        fence: None,
    }
}

async fn put(env: &Env, key: &str, value: &str) {
    env.service
        .values()
        .compare_and_swap(CompareAndSwapRequest {
            key: key.into(),
            expected: None,
            new_value: Some(value.as_bytes().to_vec()),
            request_id: String::new(),
            fence: None,
        })
        .await
        .unwrap();
}

async fn value(env: &Env, key: &str) -> Option<Vec<u8>> {
    match env
        .service
        .values()
        .get_value(GetValueRequest { key: key.into() })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
    {
        get::Outcome::Value(v) => Some(v),
        get::Outcome::NotFound(_) => None,
    }
}

/// Whether a single condition holds, by running it with one write.
async fn holds(env: &Env, condition: Condition) -> bool {
    let response = env
        .service
        .values()
        .conditional_update(request(vec![condition], vec![set("probe", "x")]))
        .await
        .unwrap()
        .into_inner();
    match response.outcome.unwrap() {
        update::Outcome::Applied(_) => true,
        update::Outcome::Failed(_) => false,
        update::Outcome::Fenced(f) => panic!("an unfenced write was fenced: {f:?}"),
    }
}

/// Every operator against a present, a missing and a non-numeric value.
#[tokio::test]
async fn every_operator() {
    let env = Env::start().await;
    put(&env, "n", "10").await;
    put(&env, "s", "abc").await;
    let table = [
        (cond("n", Eq, "10"), true),
        (cond("n", Eq, "10.0"), false), // EQ is byte-wise
        (cond("n", Ne, "11"), true),
        (cond("n", Gt, "9"), true),
        (cond("n", Gt, "10"), false),
        (cond("n", Gte, "10.0"), true), // numeric compares are numeric
        (cond("n", Lt, "10.5"), true),
        (cond("n", Lte, "9.99"), false),
        (cond("n", Exists, ""), true),
        (cond("n", NotExists, ""), false),
        (cond("missing", Eq, ""), false),
        (cond("missing", Ne, ""), true),
        (cond("missing", Exists, ""), false),
        (cond("missing", NotExists, ""), true),
        (cond("missing", Gte, "0"), true), // missing counts as 0
        (cond("missing", Lt, "0"), false),
        (cond("missing", Gt, "-0.5"), true),
        (cond("s", Gt, "0"), false), // not a number: numeric fails
        (cond("s", Lt, "0"), false),
        (cond("s", Eq, "abc"), true),
    ];
    for (condition, want) in table {
        let text = format!("{condition:?}");
        assert_eq!(holds(&env, condition).await, want, "{text}");
    }
}

/// Numeric compares are exact at ±(2^53−1) and beyond, where doubles are
/// not: 2^53 and 2^53+1 differ.
#[tokio::test]
async fn numbers_are_exact_at_the_edges() {
    let env = Env::start().await;
    let max = "9007199254740991"; // 2^53 - 1
    let min = "-9007199254740991";
    put(&env, "max", max).await;
    put(&env, "min", min).await;
    put(&env, "big", "9007199254740993").await; // 2^53 + 1
    let table = [
        (cond("max", Eq, max), true),
        (cond("max", Gte, max), true),
        (cond("max", Gt, "9007199254740990"), true),
        (cond("max", Lt, "9007199254740992"), true),
        (cond("max", Gt, max), false),
        (cond("min", Lte, min), true),
        (cond("min", Lt, "-9007199254740990"), true),
        (cond("min", Gt, "-9007199254740992"), true),
        (cond("min", Lt, min), false),
        (cond("big", Gt, "9007199254740992"), true),
        (cond("big", Lt, "9007199254740994"), true),
        (cond("big", Gt, "9007199254740993"), false),
        (cond("big", Gt, "123456789012345678901234567890"), false),
        (cond("big", Gt, "-123456789012345678901234567890.5"), true),
        (
            cond("max", Gt, "9007199254740990.9999999999999999999"),
            true,
        ),
        (
            cond("max", Lt, "9007199254740991.0000000000000000001"),
            true,
        ),
    ];
    for (condition, want) in table {
        let text = format!("{condition:?}");
        assert_eq!(holds(&env, condition).await, want, "{text}");
    }
}

/// All writes apply when every condition holds; when one fails, the first
/// failing one is named with its actual value and nothing is written.
#[tokio::test]
async fn all_or_nothing() {
    let env = Env::start().await;
    let mut values = env.service.values();
    put(&env, "a", "1").await;
    put(&env, "b", "2").await;

    let before = env.snapshot().await;
    let failing = request(
        vec![
            cond("a", Eq, "1"),
            cond("b", Gt, "5"),
            cond("c", Exists, ""),
        ],
        vec![set("a", "10"), delete("b"), set("c", "30")],
    );
    let response = values
        .conditional_update(failing)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.outcome,
        Some(update::Outcome::Failed(update::Failed {
            index: 1,
            key: "b".into(),
            operator: Gt.into(),
            expected: b"5".to_vec(),
            actual: Some(b"2".to_vec()),
        }))
    );
    assert_eq!(
        env.snapshot().await,
        before,
        "a failed update wrote something"
    );

    // A failing condition on a missing key reports no actual value.
    let response = values
        .conditional_update(request(vec![cond("c", Exists, "")], vec![set("a", "0")]))
        .await
        .unwrap()
        .into_inner();
    let Some(update::Outcome::Failed(failed)) = response.outcome else {
        panic!("expected a failure")
    };
    assert_eq!((failed.index, failed.actual), (0, None));

    let passing = request(
        vec![
            cond("a", Eq, "1"),
            cond("b", Lt, "5"),
            cond("c", NotExists, ""),
        ],
        vec![set("a", "10"), delete("b"), set("c", "30")],
    );
    let response = values
        .conditional_update(passing)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.outcome,
        Some(update::Outcome::Applied(update::Applied { writes: 3 }))
    );
    assert_eq!(value(&env, "a").await, Some(b"10".to_vec()));
    assert_eq!(value(&env, "b").await, None);
    assert_eq!(value(&env, "c").await, Some(b"30".to_vec()));

    // Writes alone (no condition) and conditions alone (no write) are fine.
    let response = values
        .conditional_update(request(vec![], vec![set("d", "4")]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.outcome,
        Some(update::Outcome::Applied(update::Applied { writes: 1 }))
    );
    let response = values
        .conditional_update(request(vec![cond("d", Eq, "4")], vec![]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.outcome,
        Some(update::Outcome::Applied(update::Applied { writes: 0 }))
    );
}

/// The request rules: limits of 64, a key written once, known operators,
/// decimal operands for numeric operators, none for EXISTS; every refusal
/// writes nothing.
#[tokio::test]
async fn refuses_malformed_requests() {
    let env = Env::start().await;
    let mut values = env.service.values();
    let before = env.snapshot().await;
    let many_conditions = (0..65)
        .map(|i| cond(&format!("k{i}"), Exists, ""))
        .collect();
    let many_writes = (0..65).map(|i| set(&format!("k{i}"), "v")).collect();
    let mut unknown = cond("a", Eq, "1");
    unknown.operator = 42;
    let cases: Vec<(ConditionalUpdateRequest, &[&str])> = vec![
        (request(vec![], vec![]), &["writes"]),
        (
            request(many_conditions, vec![set("a", "1")]),
            &["conditions"],
        ),
        (request(vec![], many_writes), &["writes"]),
        (
            request(vec![], vec![set("a", "1"), set("b", "2"), delete("a")]),
            &["writes[2].key"],
        ),
        (
            request(vec![cond("a", Unspecified, "1")], vec![]),
            &["conditions[0].operator"],
        ),
        (request(vec![unknown], vec![]), &["conditions[0].operator"]),
        (
            request(vec![cond("a", Gt, "1e3")], vec![]),
            &["conditions[0].operand"],
        ),
        (
            request(vec![cond("a", Lt, "")], vec![]),
            &["conditions[0].operand"],
        ),
        (
            request(vec![cond("a", Exists, "x")], vec![]),
            &["conditions[0].operand"],
        ),
        (
            request(vec![cond("bad key", Eq, "1")], vec![set("", "v")]),
            &["conditions[0].key", "writes[0].key"],
        ),
    ];
    for (request, fields) in cases {
        let status = values.conditional_update(request).await.unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", fields);
    }
    // 64 and 64 is the limit, not past it.
    let conditions = (0..64)
        .map(|i| cond(&format!("c{i}"), NotExists, ""))
        .collect();
    let writes = (0..64).map(|i| set(&format!("w{i}"), "v")).collect();
    let response = values
        .conditional_update(request(conditions, writes))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.outcome,
        Some(update::Outcome::Applied(update::Applied { writes: 64 }))
    );
    assert_eq!(env.snapshot().await.len(), before.len() + 64);
}
