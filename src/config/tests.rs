//! The configuration's defaults and bounds.

use super::*;

/// The defaults the README's configuration table documents, and
/// durations in human units.
#[test]
fn defaults_and_durations() {
    let config = Config::try_parse_from(["rmw", "--pool-wait", "250ms"]).unwrap();
    assert_eq!(config.server.listen, "0.0.0.0:50051".parse().unwrap());
    assert_eq!(config.redis.key_prefix.prefix(), "rmw");
    assert_eq!(config.redis.idempotency_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(config.redis.pool_wait, Duration::from_millis(250));
    assert_eq!(config.limits, Limits::default());
    // Audit and movements streams are never trimmed unless asked.
    assert_eq!(config.redis.ledger_retention, Retention::Forever);
    assert_eq!(config.redis.movements_retention, Retention::Forever);
    assert_eq!(
        config.redis.record_journal_retention,
        Retention::Entries(100_000)
    );
    assert_eq!(config.server.max_watches, 1024);
    assert!(Config::try_parse_from(["rmw", "--pool-size", "0"]).is_err());
    assert!(Config::try_parse_from(["rmw", "--default-timeout", "soon"]).is_err());
}

/// Every setting a script passes to Redis, or that moves a clock, is
/// refused out of range at start-up (hardening #3, #4, #9).
#[test]
fn settings_out_of_range_are_refused() {
    for (flag, bad) in [
        ("--ledger-retention", "18446744073709551615"),
        ("--ledger-retention", "9007199254740992"),
        ("--ledger-retention", "0"),
        ("--movements-retention", "3651d"),
        ("--idempotency-ttl", "1000000000y"),
        ("--idempotency-ttl", "3651d"),
        ("--idempotency-ttl", "0s"),
        ("--idempotency-ttl", "999ms"),
        ("--max-items", "1001"),
        ("--max-items", "0"),
        ("--default-timeout", "0s"),
        ("--default-timeout", "1000000000y"),
        ("--max-timeout", "2h"),
        ("--pool-wait", "1000000000y"),
        ("--health-interval", "1ms"),
        ("--drain-timeout", "1000000000y"),
        ("--worker-threads", "1025"),
        ("--clock-skew-secs", "9223372036854775807"),
    ] {
        let parsed = Config::try_parse_from(["rmw", flag, bad]);
        assert!(parsed.is_err(), "{flag} {bad} was accepted");
    }
    for (flag, good) in [
        ("--ledger-retention", "9007199254740991"),
        ("--movements-retention", "3650d"),
        ("--idempotency-ttl", "1s"),
        ("--idempotency-ttl", "3650d"),
        ("--max-items", "1000"),
        ("--max-timeout", "1h"),
        ("--drain-timeout", "0s"),
        ("--worker-threads", "0"),
    ] {
        let parsed = Config::try_parse_from(["rmw", flag, good]);
        assert!(parsed.is_ok(), "{flag} {good} was refused");
    }
    let config = Config::try_parse_from(["rmw", "--default-timeout", "1m"]).unwrap();
    assert!(config.validate().is_err(), "default above max-timeout");
}

/// Cluster seeds are split and checked by clap, from the flag and from
/// the environment's form alike; a bad one is refused at start-up.
#[test]
fn redis_urls_are_parsed() {
    let config =
        Config::try_parse_from(["rmw", "--redis-url", "redis://a:1, redis://b:2"]).unwrap();
    assert_eq!(config.redis.urls, ["redis://a:1", "redis://b:2"]);
    assert!(config.redis.is_cluster());
    let one = Config::try_parse_from(["rmw", "--redis-url", "redis://a:1"]).unwrap();
    assert!(!one.redis.is_cluster());
    assert!(Config::try_parse_from(["rmw", "--redis-url", "http://a:1"]).is_err());
}
