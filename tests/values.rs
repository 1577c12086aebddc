//! ValuesService: GetValue and CompareAndSwap, outcomes and refusals.

use rmw::proto::v1::{
    CompareAndSwapRequest, GetValueRequest, compare_and_swap_response as cas,
    get_value_response as get,
};

use crate::common::{Env, assert_invalid};

fn cas(key: &str, expected: Option<&[u8]>, new_value: Option<&[u8]>) -> CompareAndSwapRequest {
    CompareAndSwapRequest {
        key: key.into(),
        expected: expected.map(<[u8]>::to_vec),
        new_value: new_value.map(<[u8]>::to_vec),
        request_id: String::new(),
        fence: None,
    }
}

async fn get(env: &Env, key: &str) -> get::Outcome {
    env.service
        .values()
        .get_value(GetValueRequest { key: key.into() })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap()
}

/// A missing key reads as not-found; a stored value reads back byte-exact,
/// binary and empty values included.
#[tokio::test]
async fn get_reads_what_cas_wrote() {
    let env = Env::start().await;
    let mut values = env.service.values();
    assert_eq!(
        get(&env, "k").await,
        get::Outcome::NotFound(get::NotFound {})
    );
    for value in [b"v1".to_vec(), vec![0, 255, 10, 13], Vec::new()] {
        values
            .compare_and_swap(cas("k", None, Some(&value)))
            .await
            .unwrap();
        assert_eq!(get(&env, "k").await, get::Outcome::Value(value.clone()));
        // Delete it again for the next round: expected = value, no new value.
        let deleted = values
            .compare_and_swap(cas("k", Some(&value), None))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            deleted.outcome,
            Some(cas::Outcome::Swapped(cas::Swapped {}))
        );
        assert_eq!(
            get(&env, "k").await,
            get::Outcome::NotFound(get::NotFound {})
        );
    }
}

/// CAS swaps only on a match; a conflict names the current value (or its
/// absence) and writes nothing.
#[tokio::test]
async fn cas_swaps_only_on_match() {
    let env = Env::start().await;
    let mut values = env.service.values();
    let swapped = Some(cas::Outcome::Swapped(cas::Swapped {}));

    // Create: the key must not exist.
    let r = values
        .compare_and_swap(cas("k", None, Some(b"a")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.outcome, r.replayed), (swapped.clone(), false));
    // Create again: conflict, current = "a".
    let before = env.snapshot().await;
    let r = values
        .compare_and_swap(cas("k", None, Some(b"b")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(cas::Outcome::Conflict(cas::Conflict {
            current: Some(b"a".to_vec())
        }))
    );
    // Wrong expectation: conflict, nothing written.
    let r = values
        .compare_and_swap(cas("k", Some(b"x"), Some(b"b")))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(r.outcome, Some(cas::Outcome::Conflict(_))));
    // An empty expected value is a value, not "absent".
    let r = values
        .compare_and_swap(cas("k", Some(b""), Some(b"b")))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(r.outcome, Some(cas::Outcome::Conflict(_))));
    assert_eq!(env.snapshot().await, before, "conflicts must write nothing");
    // Right expectation: swapped.
    let r = values
        .compare_and_swap(cas("k", Some(b"a"), Some(b"b")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.outcome, swapped);
    assert_eq!(get(&env, "k").await, get::Outcome::Value(b"b".to_vec()));
    // Expecting a value on a missing key: conflict without current.
    let r = values
        .compare_and_swap(cas("gone", Some(b"a"), Some(b"b")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(cas::Outcome::Conflict(cas::Conflict { current: None }))
    );
}

/// Malformed requests are INVALID_ARGUMENT with a field violation per bad
/// field, and nothing reaches Redis.
#[tokio::test]
async fn cas_refuses_malformed_requests() {
    let env = Env::start().await;
    let mut values = env.service.values();
    let before = env.snapshot().await;
    let huge = vec![b'x'; (1 << 20) + 1];
    let cases: Vec<(CompareAndSwapRequest, &[&str])> = vec![
        (cas("", None, Some(b"v")), &["key"]),
        (cas("a b", None, Some(b"v")), &["key"]),
        (cas("a{}b", None, Some(b"v")), &["key"]),
        (cas("{a}{b}", None, Some(b"v")), &["key"]),
        (cas(&"k".repeat(257), None, Some(b"v")), &["key"]),
        (cas("k", None, None), &["new_value"]),
        (cas("k", Some(&huge), Some(b"v")), &["expected"]),
        (cas("k", None, Some(&huge)), &["new_value"]),
        (
            CompareAndSwapRequest {
                request_id: "no spaces allowed".into(),
                ..cas("", None, Some(b"v"))
            },
            &["key", "request_id"],
        ),
        (
            CompareAndSwapRequest {
                request_id: "r".repeat(129),
                ..cas("k", None, Some(b"v"))
            },
            &["request_id"],
        ),
    ];
    for (request, fields) in cases {
        let status = values.compare_and_swap(request).await.unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", fields);
    }
    let status = values
        .get_value(GetValueRequest {
            key: "bad key".into(),
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["key"]);
    assert_eq!(env.snapshot().await, before);
    assert_eq!(
        crate::common::command_calls(&mut env.conn().await, "evalsha").await,
        0
    );
}

/// Keys land under the configured prefix, tagged keys keep their tag.
#[tokio::test]
async fn keys_follow_the_documented_layout() {
    let env = Env::start().await;
    let mut values = env.service.values();
    for key in ["plain", "user{42}:name"] {
        values
            .compare_and_swap(cas(key, None, Some(b"v")))
            .await
            .unwrap();
    }
    let keys: Vec<Vec<u8>> = env.snapshot().await.into_keys().collect();
    let p = &env.service.prefix;
    let want: Vec<Vec<u8>> = vec![
        format!("{p}:val:plain").into_bytes(),
        format!("{p}:val:user{{42}}:name").into_bytes(),
    ];
    assert_eq!(keys, want);
}
