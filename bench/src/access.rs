//! What access control costs a call: CompareAndSwap at the headline
//! concurrency against a service with no policy, the same with a bearer
//! JWT sent (and ignored: what the token's bytes cost on the wire), and
//! against one with a 100-rule policy checking that JWT on every call,
//! alternating, with the service's CPU per call. Written to access.md.

use std::fmt::Write as _;

use anyhow::Context as _;
use rmw::dev_redis::RedisProcess;

use crate::{Args, HEADLINE, load::Pace, measured, ops, ops::Op, service::Service, setup};

/// The HMAC secret of the bench's tokens, base64url (a JWKS `oct` key).
const SECRET: &str = "cm13LWJlbmNoLXNlY3JldC1ybXctYmVuY2gtc2VjcmV0LTM2";

/// 99 rules that do not name the bench's caller — half by exact name,
/// half by pattern, so each call scans the patterned ones — and one that
/// grants it CompareAndSwap on the keys the load uses.
fn policy() -> String {
    let mut text = String::new();
    for i in 0..99 {
        let principal = if i % 2 == 0 {
            format!("svc-{i}")
        } else {
            format!("team-{i}-*")
        };
        let _ = write!(
            text,
            "[[rule]]\nprincipals = [\"{principal}\"]\nmethods = [\"ValuesService/*\", \"LedgerService/Transfer\"]\nvalues = [\"app-{i}:*\"]\nbooks = [\"b{i}\"]\naccounts = [\"*\"]\n\n"
        );
    }
    text.push_str(
        "[[rule]]\nprincipals = [\"bench\"]\nmethods = [\"ValuesService/CompareAndSwap\", \"LedgerService/Credit\"]\nvalues = [\"k*\"]\nbooks = [\"bench*\"]\naccounts = [\"*\"]\n",
    );
    text
}

fn guarded_settings(
    policy: &std::path::Path,
    keys: &std::path::Path,
) -> rmw::config::AccessSettings {
    rmw::config::AccessSettings {
        policy: Some(policy.to_owned()),
        jwt_keys: Some(keys.to_owned()),
        jwt_issuer: Some("bench".into()),
        jwt_audience: Some("rmw".into()),
        policy_check_interval: std::time::Duration::from_secs(3600),
    }
}

/// What the layer and the handler do for one call under the policy —
/// who the caller is, its method's rules, the request's key — timed over
/// many calls on one thread, in ns per call: the figure the 2-core
/// machine's load runs cannot resolve to better than about a microsecond.
fn check_alone(settings: &rmw::config::AccessSettings, token: &str) -> anyhow::Result<f64> {
    use rmw::{
        auth::Access,
        ops::{CompareAndSwap, types::Key},
    };
    use tonic::codegen::http::{Extensions, HeaderMap};

    const CALLS: u32 = 1_000_000;
    let access = Access::load(settings)?;
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse()?);
    let extensions = Extensions::new();
    let mut op = CompareAndSwap {
        key: Key::parse("k1").map_err(anyhow::Error::msg)?,
        expected: None,
        new_value: Some(b"v".to_vec()),
        request_id: None,
        fence: None,
    };
    let mut check = || -> anyhow::Result<()> {
        let caller = access
            .admit_call("ValuesService/CompareAndSwap", &headers, &extensions)?
            .context("a caller")?;
        caller.admit(&mut op)?;
        Ok(())
    };
    for _ in 0..CALLS / 10 {
        check()?;
    }
    let started = std::time::Instant::now();
    for _ in 0..CALLS {
        check()?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e9 / f64::from(CALLS))
}

/// The services compared: label, with the policy, with a token sent.
const VARIANTS: [(&str, bool, bool); 3] = [
    ("no policy", false, false),
    ("no policy, bearer JWT sent (unread)", false, true),
    ("100-rule policy, bearer JWT checked", true, true),
];

/// The bench's token: HS256, an hour long.
fn token() -> anyhow::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = serde_json::json!({
        "sub": "bench", "iss": "bench", "aud": "rmw", "exp": now + 3600,
    });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_base64_secret(SECRET)?,
    )?)
}

/// Alternating runs without and with the policy; the medians.
pub async fn bench(args: &Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let policy_path = dir.path().join("policy.toml");
    let keys_path = dir.path().join("keys.json");
    std::fs::write(&policy_path, policy())?;
    std::fs::write(
        &keys_path,
        format!(r#"{{"keys":[{{"kty":"oct","k":"{SECRET}","alg":"HS256"}}]}}"#),
    )?;
    let mut guarded = args.rmw_flags.clone();
    guarded.extend(
        [
            "--policy",
            &policy_path.display().to_string(),
            "--jwt-keys",
            &keys_path.display().to_string(),
            "--jwt-issuer",
            "bench",
            "--jwt-audience",
            "rmw",
        ]
        .map(str::to_owned),
    );
    let token = token()?;
    let mut notes = setup(&format!("`{}`", args.rmw_flags.join(" ")));
    let _ = writeln!(
        notes,
        "- load: CompareAndSwap, closed loop, {HEADLINE} callers on {} connections, {} s per run after {} s warm-up; {} alternating runs each",
        args.channels,
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64(),
        args.repeats.max(1)
    );
    print!("{notes}");
    let alone = check_alone(&guarded_settings(&policy_path, &keys_path), &token)?;
    let _ = writeln!(
        notes,
        "- the check alone, in process (token remembered, 100 rules, method and key granted): {alone:.0} ns per call"
    );
    println!("- the check alone: {alone:.0} ns per call");
    let mut results = vec![Vec::new(); VARIANTS.len()];
    for round in 0..args.repeats.max(1) {
        for (variant, &(label, with_policy, with_token)) in VARIANTS.iter().enumerate() {
            let redis = RedisProcess::start(&[])
                .await
                .context("start redis-server")?;
            let flags = if with_policy {
                &guarded
            } else {
                &args.rmw_flags
            };
            let service = Service::start(&redis.url(), flags).await?;
            let channels = service.channels(args.channels).await?;
            ops::set_bearer(with_token.then_some(token.as_str()));
            ops::prepare(channels[0].clone(), &redis.url()).await?;
            let (run, cpu_us) =
                measured(args, &service, &channels, Op::Cas, Pace::Closed(HEADLINE)).await?;
            anyhow::ensure!(
                run.errors == 0,
                "{} calls failed: {:?}",
                run.errors,
                run.first_error
            );
            println!(
                "  round {round}: {label:<34} {:>7.0} ops/s  p50 {:>5.2} ms  p99 {:>5.2} ms  server {cpu_us:>5.1} µs/call",
                run.rate(),
                run.ms(0.5),
                run.ms(0.99)
            );
            results[variant].push((run.rate(), cpu_us));
            service.stop();
        }
    }
    ops::set_bearer(None);
    let table = table(&results);
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("access.md"),
        format!("## Setup\n\n{notes}\n## Access control's cost\n\n{table}"),
    )?;
    println!("\n{table}");
    Ok(())
}

/// The medians of each service's runs (ops/s, server µs per call), and
/// the differences between them.
fn table(results: &[Vec<(f64, f64)>]) -> String {
    let median = |runs: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let mut table = String::from(
        "| service | ops/s (median) | server CPU per call (median) |\n|---|---:|---:|\n",
    );
    for (&(label, ..), runs) in VARIANTS.iter().zip(results) {
        let _ = writeln!(
            table,
            "| {label} | {:.0} | {:.1} µs |",
            median(runs, |r| r.0),
            median(runs, |r| r.1)
        );
    }
    let cpu = |variant: usize| median(&results[variant], |r| r.1);
    let _ = writeln!(
        table,
        "\nthe policy's check: {:+.1} µs of server CPU per call (same bytes on the wire); the bearer token's bytes: {:+.1} µs",
        cpu(2) - cpu(1),
        cpu(1) - cpu(0)
    );
    table
}
