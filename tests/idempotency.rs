//! request_id: a repeat replays the stored reply and changes
//! nothing; other parameters under the same id are refused; refusals that
//! changed nothing are not remembered.

use rmw::proto::v1::{
    CompareAndSwapRequest, Condition, ConditionalUpdateRequest, DeleteRecordRequest,
    PutRecordRequest, Write, compare_and_swap_response as cas, condition::Operator,
    put_record_response as put,
};
use tonic::Code;

use crate::common::{Env, assert_error};

fn cas(
    key: &str,
    expected: Option<&str>,
    new_value: &str,
    request_id: &str,
) -> CompareAndSwapRequest {
    CompareAndSwapRequest {
        key: key.into(),
        expected: expected.map(|e| e.as_bytes().to_vec()),
        new_value: Some(new_value.as_bytes().to_vec()),
        request_id: request_id.into(),
        fence: None,
    }
}

/// A retried CAS returns its first reply marked replayed, even after the
/// value moved on, and does not write again.
#[tokio::test]
async fn a_repeat_replays_and_writes_nothing() {
    let env = Env::start().await;
    let mut values = env.service.values();
    let first = values
        .compare_and_swap(cas("k", None, "a", "req-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (first.outcome.clone(), first.replayed),
        (Some(cas::Outcome::Swapped(cas::Swapped {})), false)
    );

    // Someone else moves the value on.
    values
        .compare_and_swap(cas("k", Some("a"), "b", ""))
        .await
        .unwrap();
    let before = env.snapshot().await;
    for _ in 0..3 {
        let again = values
            .compare_and_swap(cas("k", None, "a", "req-1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (again.outcome, again.replayed),
            (first.outcome.clone(), true)
        );
    }
    assert_eq!(env.snapshot().await, before, "a replay wrote");

    // The record expires with the configured TTL.
    let mut conn = env.conn().await;
    let record = format!("{p}:idem:key:{{{p}:val:k}}:req-1", p = env.service.prefix);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&record)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (86_000_000..=86_400_000).contains(&ttl),
        "idempotency TTL {ttl} ms"
    );
}

/// The same request_id with other parameters is ALREADY_EXISTS
/// REQUEST_ID_REUSED, and writes nothing.
#[tokio::test]
async fn other_parameters_are_refused() {
    let env = Env::start().await;
    let mut values = env.service.values();
    values
        .compare_and_swap(cas("k", None, "a", "req-1"))
        .await
        .unwrap();
    let before = env.snapshot().await;
    for other in [
        cas("k", None, "z", "req-1"),
        cas("k", Some("q"), "a", "req-1"),
    ] {
        let status = values.compare_and_swap(other).await.unwrap_err();
        assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
    }
    // Across operations on the same slot, too.
    let status = values
        .conditional_update(ConditionalUpdateRequest {
            conditions: vec![],
            writes: vec![Write {
                key: "k".into(),
                value: Some(b"a".to_vec()),
            }],
            request_id: "req-1".into(),
            fence: None,
        })
        .await
        .unwrap_err();
    assert_error(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");
    assert_eq!(env.snapshot().await, before);
}

/// A conflict changed nothing, so it is not remembered: the retry is
/// evaluated again and may succeed.
#[tokio::test]
async fn refusals_are_evaluated_again() {
    let env = Env::start().await;
    let mut values = env.service.values();
    let first = values
        .compare_and_swap(cas("k", Some("a"), "b", "req-2"))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(first.outcome, Some(cas::Outcome::Conflict(_))));
    values
        .compare_and_swap(cas("k", None, "a", ""))
        .await
        .unwrap();
    let retry = values
        .compare_and_swap(cas("k", Some("a"), "b", "req-2"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (retry.outcome, retry.replayed),
        (Some(cas::Outcome::Swapped(cas::Swapped {})), false)
    );

    // The same for a failed conditional update.
    let update = || ConditionalUpdateRequest {
        conditions: vec![Condition {
            key: "gate".into(),
            operator: Operator::Exists.into(),
            operand: vec![],
        }],
        writes: vec![Write {
            key: "out".into(),
            value: Some(b"1".to_vec()),
        }],
        request_id: "req-3".into(),
        fence: None,
    };
    let first = values
        .conditional_update(update())
        .await
        .unwrap()
        .into_inner();
    assert!(!first.replayed);
    values
        .compare_and_swap(cas("gate", None, "open", ""))
        .await
        .unwrap();
    let retry = values
        .conditional_update(update())
        .await
        .unwrap()
        .into_inner();
    assert!(!retry.replayed);
    let replay = values
        .conditional_update(update())
        .await
        .unwrap()
        .into_inner();
    assert_eq!((replay.outcome, replay.replayed), (retry.outcome, true));
}

/// Records: a retried put is applied once and replays its version; a
/// retried delete likewise.
#[tokio::test]
async fn records_replay_too() {
    let env = Env::start().await;
    let mut records = env.service.records();
    let put = || PutRecordRequest {
        key: "doc".into(),
        value: b"v1".to_vec(),
        expected_version: 0,
        request_id: "put-1".into(),
        fence: None,
    };
    let first = records.put_record(put()).await.unwrap().into_inner();
    let again = records.put_record(put()).await.unwrap().into_inner();
    assert_eq!(
        first.outcome,
        Some(put::Outcome::Written(put::Written { version: 1 }))
    );
    assert_eq!((again.outcome, again.replayed), (first.outcome, true));

    let delete = || DeleteRecordRequest {
        key: "doc".into(),
        expected_version: 1,
        request_id: "del-1".into(),
        fence: None,
    };
    let first = records.delete_record(delete()).await.unwrap().into_inner();
    let before = env.snapshot().await;
    let again = records.delete_record(delete()).await.unwrap().into_inner();
    assert_eq!((again.outcome, again.replayed), (first.outcome, true));
    assert_eq!(env.snapshot().await, before, "a replayed delete wrote");
}
