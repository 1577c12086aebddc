//! The Lua scripts, run directly against Redis through the registry: SHAs,
//! NOSCRIPT recovery, refusal paths that write nothing, exact decimals.

use std::time::Duration;

use proptest::{prelude::*, test_runner::TestRunner};
use redis::aio::MultiplexedConnection;
use rmw::{
    deadline::Deadline,
    error::Error,
    redis::{Call, PoolMode, Redis, RedisConfig, Script},
};

use crate::common::{self, snapshot};

fn connect(url: &str) -> Redis {
    Redis::new(&RedisConfig {
        urls: vec![url.into()],
        cluster: false,
        pool_size: 2,
        pool_wait: Duration::from_secs(2),
        pool_mode: PoolMode::Shared,
        max_timeout: Duration::from_secs(30),
        certificates: None,
    })
    .unwrap()
}

fn soon() -> Deadline {
    Deadline::after(Duration::from_secs(5))
}

const TTL: Duration = Duration::from_secs(60);

/// `values_cas` on key `t:val:k`, idempotency record `t:idem:{k}:<rid>`.
fn cas(expected: Option<&str>, new_value: Option<&str>, request_id: &str) -> Call {
    let (e_mode, e) = flag(expected);
    let (n_mode, n) = flag(new_value);
    Call::write(
        Script::ValuesCas,
        format!("t:idem:{{t:val:k}}:{request_id}"),
        !request_id.is_empty(),
        TTL,
    )
    .key("t:val:k")
    .key("t:val:k")
    .arg(e_mode)
    .arg(e)
    .arg(n_mode)
    .arg(n)
    .arg("")
}

fn flag(value: Option<&str>) -> (&'static str, &str) {
    (if value.is_some() { "1" } else { "0" }, value.unwrap_or(""))
}

async fn keys(
    conn: &mut MultiplexedConnection,
) -> std::collections::BTreeMap<Vec<u8>, (Vec<u8>, i64)> {
    snapshot(conn, "t").await
}

/// Every script loads with the SHA computed locally, and the health check
/// finds them all.
#[tokio::test]
async fn shas_match_what_redis_computes() {
    let server = common::redis(&[]).await;
    let redis = connect(&server.url());
    redis.check_scripts(soon()).await.unwrap();
    let mut conn = common::connect(&server.url()).await;
    for script in Script::ALL {
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(script.source())
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(sha, script.sha(), "{}", script.name());
    }
    let states = redis.script_states().snapshot();
    let node = states.values().next().expect("one node");
    assert!(
        node.iter()
            .all(|s| s.loaded && s.last_loaded.is_some() && s.reloads == 0)
    );
}

/// After SCRIPT FLUSH the next call reloads the script and succeeds,
/// invisibly; the reload is counted.
#[tokio::test]
async fn noscript_reloads_and_retries_once() {
    let server = common::redis(&[]).await;
    let redis = connect(&server.url());
    let mut conn = common::connect(&server.url()).await;
    let reply = redis.eval(&cas(None, Some("a"), ""), soon()).await.unwrap();
    assert_eq!(reply.tag().unwrap(), "swapped");
    let loads = common::command_calls(&mut conn, "script|load").await;
    for round in 1..=3 {
        let () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut conn)
            .await
            .unwrap();
        let reply = redis
            .eval(&cas(Some("a"), Some("a"), ""), soon())
            .await
            .unwrap();
        assert_eq!(reply.tag().unwrap(), "swapped");
        assert_eq!(
            common::command_calls(&mut conn, "script|load").await,
            loads + round
        );
    }
    let states = redis.script_states().snapshot();
    let cas_state = &states.values().next().unwrap()[Script::ValuesCas as usize];
    assert_eq!(cas_state.reloads, 3);
}

/// Each writing script's refusal paths (conflict, failed condition,
/// version mismatch, reused request id) write nothing at all.
#[tokio::test]
async fn refusals_write_nothing() {
    let server = common::redis(&[]).await;
    let redis = connect(&server.url());
    let mut conn = common::connect(&server.url()).await;
    redis
        .eval(&cas(None, Some("a"), "r1"), soon())
        .await
        .unwrap();
    let put = |expected: u64, request_id: &str| {
        Call::write(
            Script::RecordsPut,
            format!("t:idem:{{t:rec:r}}:{request_id}"),
            !request_id.is_empty(),
            TTL,
        )
        .key("t:rec:r")
        .key("t:rev:key:{t:rec:r}")
        .key("t:jrn:key:{t:rec:r}")
        .key("t:rec:r")
        .setting("")
        .arg(expected)
        .arg("v")
        .arg("")
    };
    redis.eval(&put(0, ""), soon()).await.unwrap();
    let before = keys(&mut conn).await;

    let reply = redis
        .eval(&cas(Some("x"), Some("b"), "r2"), soon())
        .await
        .unwrap();
    assert_eq!(
        (reply.tag().unwrap(), reply.bytes(1).unwrap()),
        ("conflict", b"a".to_vec())
    );

    let update = Call::write(
        Script::ValuesCondUpdate,
        "t:idem:{t:val:k}:r3".into(),
        true,
        TTL,
    )
    .key("t:val:k")
    .key("t:val:k")
    .key("t:val:k")
    .arg(1)
    .arg(1)
    .arg("")
    .arg("gt")
    .arg("5")
    .arg("1")
    .arg("b");
    let reply = redis.eval(&update, soon()).await.unwrap();
    assert_eq!((reply.tag().unwrap(), reply.int(1).unwrap()), ("failed", 0));

    let reply = redis.eval(&put(7, "r4"), soon()).await.unwrap();
    assert_eq!(
        (reply.tag().unwrap(), reply.int(1).unwrap()),
        ("mismatch", 1)
    );

    let delete = Call::write(
        Script::RecordsDelete,
        "t:idem:{t:rec:r}:r5".into(),
        true,
        TTL,
    )
    .key("t:rec:r")
    .key("t:rev:key:{t:rec:r}")
    .key("t:jrn:key:{t:rec:r}")
    .key("t:rec:r")
    .setting("")
    .arg(2)
    .arg("");
    let reply = redis.eval(&delete, soon()).await.unwrap();
    assert_eq!(
        (reply.tag().unwrap(), reply.int(1).unwrap()),
        ("mismatch", 1)
    );

    let reused = redis.eval(&cas(None, Some("other"), "r1"), soon()).await;
    assert!(matches!(reused, Err(Error::RequestIdReused)), "{reused:?}");

    assert_eq!(keys(&mut conn).await, before);
}

/// A stored reply is replayed byte for byte, integers and binary included.
#[tokio::test]
async fn replays_are_exact() {
    let server = common::redis(&[]).await;
    let redis = connect(&server.url());
    let put = || {
        Call::write(Script::RecordsPut, "t:idem:{t:rec:r}:p".into(), true, TTL)
            .key("t:rec:r")
            .key("t:rev:key:{t:rec:r}")
            .key("t:jrn:key:{t:rec:r}")
            .key("t:rec:r")
            .setting("")
            .arg(0)
            .arg(&[0_u8, 159, 146, 150][..])
            .arg("")
    };
    let first = redis.eval(&put(), soon()).await.unwrap();
    let again = redis.eval(&put(), soon()).await.unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(again.tag().unwrap(), "written");
    assert_eq!(again.int(1).unwrap(), first.int(1).unwrap());
}

fn decimal(int: i128, frac: Option<u32>) -> String {
    match frac {
        Some(f) => {
            let sign = if int < 0 { "-" } else { "" };
            format!("{sign}{}.{f}", int.unsigned_abs())
        }
        None => int.to_string(),
    }
}

/// Rust's reading of a decimal, scaled to an exact integer.
fn scaled(int: i128, frac: Option<u32>) -> i128 {
    let f = frac.map_or(0, |f| {
        // "1.5" is 1.5 and "1.05" is 1.05: scale the digits as written.
        let digits = f.to_string();
        i128::from(f) * 10_i128.pow(9 - u32::try_from(digits.len()).unwrap())
    });
    let magnitude = int.abs() * 1_000_000_000 + f;
    if int < 0 { -magnitude } else { magnitude }
}

/// `values_cond_update`'s numeric compare agrees with exact integer
/// arithmetic, far past 2^53 and with fractions (200 random pairs, close
/// to each other so that every order is seen).
#[test]
fn numeric_compare_is_exact() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(common::redis(&[]));
    let redis = rt.block_on(async { connect(&server.url()) });
    let conn = rt.block_on(common::connect(&server.url()));
    let strategy = (
        -(10_i128.pow(20))..10_i128.pow(20),
        -3_i128..=3,
        proptest::option::of(1_u32..999_999_999),
        proptest::option::of(1_u32..999_999_999),
    );
    let mut runner = TestRunner::new(ProptestConfig::with_cases(200));
    runner
        .run(&strategy, |(a, b_delta, a_frac, b_frac)| {
            // Zero integer parts with signs are covered by the examples in
            // conditional_update.rs.
            let b = a + b_delta;
            prop_assume!(a != 0 && b != 0);
            let (sa, sb) = (decimal(a, a_frac), decimal(b, b_frac));
            let want = scaled(a, a_frac).cmp(&scaled(b, b_frac));
            let got = rt.block_on(compare_in_lua(&redis, conn.clone(), &sa, &sb));
            prop_assert_eq!(got, want, "{} vs {}", sa, sb);
            Ok(())
        })
        .unwrap();
}

/// The order of `a` against `b` as the script sees it (stored a, operand b).
async fn compare_in_lua(
    redis: &Redis,
    mut conn: MultiplexedConnection,
    a: &str,
    b: &str,
) -> std::cmp::Ordering {
    let () = redis::cmd("SET")
        .arg("t:val:n")
        .arg(a)
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut order = Vec::new();
    for op in ["lt", "gt"] {
        let call = Call::write(
            Script::ValuesCondUpdate,
            "t:idem:{t:val:n}:".into(),
            false,
            TTL,
        )
        .key("t:val:n")
        .key("t:val:n")
        .arg(1)
        .arg(0)
        .arg("")
        .arg(op)
        .arg(b);
        let reply = redis.eval(&call, soon()).await.unwrap();
        order.push(reply.tag().unwrap() == "applied");
    }
    match (order[0], order[1]) {
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => std::cmp::Ordering::Equal,
        (true, true) => panic!("{a} both < and > {b}"),
    }
}

/// The refusal paths that the gRPC tests cannot reach, run directly: a
/// cancel whose declared products no longer match the order ('stale'), a
/// cancel that would pass 2^53−1 ('overflow'), a quota at its limit, a
/// sequence at 2^53−1 ('exhausted'). Each writes nothing.
#[tokio::test]
async fn rare_refusals_write_nothing() {
    let server = common::redis(&[]).await;
    let redis = connect(&server.url());
    let mut conn = common::connect(&server.url()).await;
    let place = Call::write(
        Script::InventoryPlaceOrder,
        "t:inv:{s}:order:o1".into(),
        true,
        TTL,
    )
    .key("t:inv:{s}:stock")
    .key("t:inv:{s}:moves")
    .key("t:inv:{s}:held")
    .key("t:inv:{s}:holds")
    .key("t:inv:{s}:moves:a")
    .setting("n:1000")
    .setting(0)
    .setting("")
    .arg("o1")
    .arg("a")
    .arg(5);
    let () = redis::cmd("HSET")
        .arg("t:inv:{s}:stock")
        .arg("a")
        .arg(10)
        .query_async(&mut conn)
        .await
        .unwrap();
    let reply = redis.eval(&place, soon()).await.unwrap();
    assert_eq!(reply.tag().unwrap(), "placed");
    let cancel = |product: &str| {
        Call::write(
            Script::InventoryCancelOrder,
            "t:inv:{s}:idem:".into(),
            false,
            TTL,
        )
        .key("t:inv:{s}:order:o1")
        .key("t:inv:{s}:stock")
        .key("t:inv:{s}:moves")
        .key("t:inv:{s}:held")
        .key("t:inv:{s}:holds")
        .key(format!("t:inv:{{s}}:moves:{product}"))
        .setting("n:1000")
        .setting(0)
        .setting("")
        .arg("o1")
        .arg(product)
    };
    let before = keys(&mut conn).await;
    let reply = redis.eval(&cancel("b"), soon()).await.unwrap();
    assert_eq!(reply.tag().unwrap(), "stale");
    assert_eq!(keys(&mut conn).await, before);

    let max = (1_i64 << 53) - 1;
    let () = redis::cmd("HSET")
        .arg("t:inv:{s}:stock")
        .arg("a")
        .arg(max - 2)
        .query_async(&mut conn)
        .await
        .unwrap();
    let before = keys(&mut conn).await;
    let reply = redis.eval(&cancel("a"), soon()).await.unwrap();
    assert_eq!(
        (reply.tag().unwrap(), reply.int(2).unwrap()),
        ("overflow", max - 2)
    );
    assert_eq!(keys(&mut conn).await, before);

    let consume = Call::write(
        Script::CountersConsumeQuota,
        "t:ctr:{q}:idem:".into(),
        false,
        TTL,
    )
    .key("t:ctr:{q}:quota:0")
    .setting(0)
    .arg(3)
    .arg(5)
    .arg(0);
    assert_eq!(
        redis.eval(&consume, soon()).await.unwrap().tag().unwrap(),
        "consumed"
    );
    let before = keys(&mut conn).await;
    let reply = redis.eval(&consume, soon()).await.unwrap();
    assert_eq!(
        (reply.tag().unwrap(), reply.int(1).unwrap()),
        ("limit_exceeded", 3)
    );
    assert_eq!(keys(&mut conn).await, before);

    let () = redis::cmd("SET")
        .arg("t:seq:{n}:high")
        .arg(max - 2)
        .query_async(&mut conn)
        .await
        .unwrap();
    let next = Call::write(Script::SequencesNext, "t:seq:{n}:idem:".into(), false, TTL)
        .key("t:seq:{n}:high")
        .key("t:seq:{n}:free")
        .arg(3);
    let before = keys(&mut conn).await;
    let reply = redis.eval(&next, soon()).await.unwrap();
    assert_eq!(
        (reply.tag().unwrap(), reply.int(1).unwrap()),
        ("exhausted", max - 2)
    );
    assert_eq!(keys(&mut conn).await, before);
}
