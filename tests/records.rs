//! RecordsService: versions, optimistic locking, tombstones.

use rmw::proto::v1::{
    DeleteRecordRequest, GetRecordRequest, GetRecordResponse, PutRecordRequest, VersionMismatch,
    delete_record_response as delete, put_record_response as put,
};

use crate::common::{Env, assert_invalid};

fn put_req(key: &str, value: &str, expected_version: u64) -> PutRecordRequest {
    PutRecordRequest {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        expected_version,
        request_id: String::new(),
        fence: None,
    }
}

fn delete_req(key: &str, expected_version: u64) -> DeleteRecordRequest {
    DeleteRecordRequest {
        key: key.into(),
        expected_version,
        request_id: String::new(),
        fence: None,
    }
}

async fn get(env: &Env, key: &str) -> GetRecordResponse {
    env.service
        .records()
        .get_record(GetRecordRequest { key: key.into() })
        .await
        .unwrap()
        .into_inner()
}

/// Create with version 0, update with the current version, each write
/// bumping it by one; a stale version is a typed mismatch that writes
/// nothing and shows what is stored.
#[tokio::test]
async fn versions_guard_writes() {
    let env = Env::start().await;
    let mut records = env.service.records();
    assert_eq!(
        (get(&env, "doc").await.version, get(&env, "doc").await.value),
        (0, vec![])
    );

    let r = records
        .put_record(put_req("doc", "v1", 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(put::Outcome::Written(put::Written { version: 1 }))
    );
    let r = records
        .put_record(put_req("doc", "v2", 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(put::Outcome::Written(put::Written { version: 2 }))
    );
    assert_eq!(
        (get(&env, "doc").await.version, get(&env, "doc").await.value),
        (2, b"v2".to_vec())
    );

    let before = env.snapshot().await;
    for stale in [0, 1, 3] {
        let r = records
            .put_record(put_req("doc", "v3", stale))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            r.outcome,
            Some(put::Outcome::VersionMismatch(VersionMismatch {
                expected: stale,
                actual: 2,
                current_value: Some(b"v2".to_vec()),
            }))
        );
    }
    // Updating a record that does not exist: mismatch with actual 0.
    let r = records
        .put_record(put_req("nope", "v", 4))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(put::Outcome::VersionMismatch(VersionMismatch {
            expected: 4,
            actual: 0,
            current_value: None,
        }))
    );
    assert_eq!(
        env.snapshot().await,
        before,
        "mismatches must write nothing"
    );
}

/// Delete checks the version; a deleted record reads as absent, and
/// re-creating it continues the numbering (a stale client holding the old
/// version 1 cannot overwrite the new record: no ABA). The record's key
/// goes; the revision that keeps its numbering has no TTL.
#[tokio::test]
async fn delete_keeps_the_numbering() {
    let env = Env::start().await;
    let mut records = env.service.records();
    records.put_record(put_req("doc", "v1", 0)).await.unwrap();

    let before = env.snapshot().await;
    let r = records
        .delete_record(delete_req("doc", 2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(delete::Outcome::VersionMismatch(VersionMismatch {
            expected: 2,
            actual: 1,
            current_value: Some(b"v1".to_vec()),
        }))
    );
    assert_eq!(env.snapshot().await, before);

    let r = records
        .delete_record(delete_req("doc", 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(delete::Outcome::Deleted(delete::Deleted { version: 1 }))
    );
    assert_eq!(get(&env, "doc").await.version, 0);
    // Deleting again: absent.
    let r = records
        .delete_record(delete_req("doc", 1))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        r.outcome,
        Some(delete::Outcome::VersionMismatch(VersionMismatch {
            actual: 0,
            ..
        }))
    ));
    // The record is gone; its revision stays, for good.
    let mut conn = env.conn().await;
    let prefix = &env.service.prefix;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(format!("{prefix}:rec:doc"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0, "a deleted record leaves nothing behind");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}:rev:key:{{{prefix}:rec:doc}}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(ttl, -1, "the revision must not expire");

    // Re-create: version 2, not 1; the stale version 1 is refused.
    let r = records
        .put_record(put_req("doc", "again", 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.outcome,
        Some(put::Outcome::Written(put::Written { version: 2 }))
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{}:rec:doc", env.service.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(ttl, -1, "a live record must not expire");
    let r = records
        .put_record(put_req("doc", "stale", 1))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(r.outcome, Some(put::Outcome::VersionMismatch(_))));
}

/// Version rules: delete needs a version ≥ 1, versions stop at 2^53−1,
/// values at 1 MiB; nothing is written.
#[tokio::test]
async fn refuses_malformed_requests() {
    let env = Env::start().await;
    let mut records = env.service.records();
    let before = env.snapshot().await;
    let too_big = 1 << 53;
    let status = records
        .delete_record(delete_req("doc", 0))
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["expected_version"]);
    let status = records
        .delete_record(delete_req("doc", too_big))
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["expected_version"]);
    let status = records
        .put_record(put_req("doc", "v", too_big))
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["expected_version"]);
    let mut huge = put_req("", "", 0);
    huge.value = vec![0; (1 << 20) + 1];
    let status = records.put_record(huge).await.unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["key", "value"]);
    let status = records
        .get_record(GetRecordRequest { key: "{}".into() })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["key"]);
    assert_eq!(env.snapshot().await, before);
}

/// Injected: 40 random histories of puts and deletes on a tagged and an
/// untagged key (each with the version it must have), interleaved with
/// expiries: every key that has a TTL — idempotency records, and
/// tombstones where a version lived in one — is deleted, as time would.
/// Asserted: each key's versions, over its whole history, only ever grow.
#[test]
fn versions_never_repeat_whatever_expires() {
    use proptest::{prelude::*, test_runner::TestRunner};

    #[derive(Clone, Copy, Debug)]
    enum Step {
        Put(usize),
        Delete(usize),
        Expire,
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let env = rt.block_on(Env::start());
    let step = prop_oneof![
        (0..2_usize).prop_map(Step::Put),
        (0..2_usize).prop_map(Step::Delete),
        Just(Step::Expire),
    ];
    let mut runner = TestRunner::new(proptest::test_runner::Config {
        cases: 40,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0e75),
        ..Default::default()
    });
    let history = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&prop::collection::vec(step, 1..30), |steps| {
            let n = history.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let keys = [format!("{{h{n}}}:doc"), format!("plain{n}")];
            rt.block_on(async {
                let mut records = env.service.records();
                let mut current = [0_u64; 2];
                let mut seen: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
                for step in steps {
                    match step {
                        Step::Put(k) => {
                            let r = records
                                .put_record(put_req(&keys[k], "v", current[k]))
                                .await
                                .unwrap()
                                .into_inner();
                            let Some(put::Outcome::Written(w)) = r.outcome else {
                                panic!("{r:?}");
                            };
                            current[k] = w.version;
                            seen[k].push(w.version);
                        }
                        Step::Delete(k) if current[k] > 0 => {
                            records
                                .delete_record(delete_req(&keys[k], current[k]))
                                .await
                                .unwrap();
                            current[k] = 0;
                        }
                        Step::Delete(_) => {}
                        Step::Expire => expire_all(&env).await,
                    }
                }
                for (k, versions) in seen.iter().enumerate() {
                    assert!(
                        versions.windows(2).all(|w| w[0] < w[1]),
                        "{}: versions {versions:?}",
                        keys[k]
                    );
                }
            });
            Ok(())
        })
        .unwrap();
}

/// Deletes every key of the test's prefix that has a TTL.
async fn expire_all(env: &Env) {
    let mut conn = env.conn().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", env.service.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if ttl > 0 {
            let () = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
}
