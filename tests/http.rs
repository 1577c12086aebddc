//! The API over plain HTTP: Connect's unary calls and streams (JSON and
//! protobuf bodies, HTTP/1.1 and HTTP/2), their errors beside gRPC's, the
//! layers they share with gRPC, CORS, and the console's files.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use prost::Message as _;
use rmw::proto::v1::{
    CompareAndSwapRequest, GetValueRequest, WatchMovementsRequest, WatchStart,
    compare_and_swap_response as cas, get_value_response,
};
use serde_json::{Value, json};
use tonic::{Code, Status};

use crate::common::{self, Env, Service, http::Http, sample, scrape};

const CAS: &str = "/rmw.v1.ValuesService/CompareAndSwap";

/// An error detail, decoded: two encodings of one ErrorInfo differ in the
/// order of its metadata map (a HashMap on the server), so details are
/// compared as messages; a type not known here, as bytes.
#[derive(Debug, PartialEq)]
enum Detail {
    Info(tonic_types::pb::ErrorInfo),
    BadRequest(tonic_types::pb::BadRequest),
    Retry(tonic_types::pb::RetryInfo),
    Other(String, Vec<u8>),
}

impl Detail {
    fn of(type_name: &str, value: &[u8]) -> Self {
        match type_name {
            "google.rpc.ErrorInfo" => Self::Info(prost::Message::decode(value).unwrap()),
            "google.rpc.BadRequest" => Self::BadRequest(prost::Message::decode(value).unwrap()),
            "google.rpc.RetryInfo" => Self::Retry(prost::Message::decode(value).unwrap()),
            other => Self::Other(other.to_owned(), value.to_vec()),
        }
    }
}

/// Asserts that a Connect error body says what `grpc` says: the same code
/// (as Connect names it), message and details (the same messages, in the
/// same order).
fn same_error(connect: &Value, grpc: &Status) {
    let code = match grpc.code() {
        Code::Cancelled => "canceled".to_owned(),
        code => format!("{code:?}")
            .chars()
            .flat_map(|c| {
                let lower = c.to_ascii_lowercase();
                if c.is_ascii_uppercase() {
                    vec!['_', lower]
                } else {
                    vec![lower]
                }
            })
            .collect::<String>()
            .trim_start_matches('_')
            .to_owned(),
    };
    assert_eq!(connect["code"], code, "{connect}");
    assert_eq!(connect["message"], grpc.message(), "{connect}");
    let want: Vec<Detail> = tonic_types::pb::Status::decode(grpc.details())
        .unwrap()
        .details
        .into_iter()
        .map(|any| Detail::of(any.type_url.rsplit('/').next().unwrap(), &any.value))
        .collect();
    let got: Vec<Detail> = connect["details"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|detail| {
            let value = detail["value"].as_str().unwrap();
            let value = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(value.trim_end_matches('='))
                .unwrap();
            Detail::of(detail["type"].as_str().unwrap(), &value)
        })
        .collect();
    assert!(
        !want.is_empty(),
        "every error of the service has an ErrorInfo"
    );
    assert_eq!(got, want, "{connect}");
}

/// The detail of type `name` of a Connect error.
fn detail<'a>(error: &'a Value, name: &str) -> Option<&'a Value> {
    error["details"]
        .as_array()?
        .iter()
        .find(|detail| detail["type"] == name)
}

/// The envelopes of a whole Connect stream body: (flags, JSON).
fn envelopes(mut body: &[u8]) -> Vec<(u8, Value)> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        out.push((
            body[0],
            serde_json::from_slice(&body[5..5 + length]).unwrap(),
        ));
        body = &body[5 + length..];
    }
    out
}

/// `message` in a Connect stream's envelope.
fn enveloped(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// int64 at the edges of what money and stock take (±(2^53−1)), as JSON
/// numbers and as strings, comes back exact and as strings; an int64 past
/// them (2^63−1) reaches the validator exact (not rounded to a double) and
/// is refused there; bytes of every value round-trip as base64 and match
/// what gRPC reads; enums read by name; oneofs by their field name. Over
/// HTTP/1.1 and HTTP/2 alike.
#[tokio::test]
async fn json_round_trips_int64_bytes_enums_and_oneofs() {
    let env = Env::start().await;
    for http in [Http::h1(env.service.addr), Http::h2(env.service.addr)] {
        let book = format!("eu-{}", common::unique_prefix());
        let credit = |account: &str, amount: Value| json!({"book": book, "account": account, "amount": amount, "reference": "r"});
        for (account, amount) in [
            ("alice", json!(9_007_199_254_740_991_i64)),
            ("bob", json!("9007199254740991")),
        ] {
            let reply = http
                .json("/rmw.v1.LedgerService/Credit", &credit(account, amount))
                .await;
            assert_eq!(reply.status, 200, "{}", reply.json());
            assert_eq!(reply.json()["posted"]["balanceAfter"], "9007199254740991");
        }
        let balances = http
            .json(
                "/rmw.v1.LedgerService/GetBalances",
                &json!({"book": book, "accounts": ["alice", "bob"]}),
            )
            .await
            .json();
        for balance in balances["balances"].as_array().unwrap() {
            assert_eq!(balance["balance"], "9007199254740991", "{balances}");
            // Zero is a default: canonical ProtoJSON leaves it out.
            assert!(balance.get("pendingDebits").is_none(), "{balances}");
        }
        let counter = json!({"name": format!("c-{book}"), "amount": "-9007199254740991",
                             "min": "-9007199254740991"});
        let adjusted = http
            .json("/rmw.v1.CountersService/AdjustCounter", &counter)
            .await
            .json();
        assert_eq!(
            adjusted["adjusted"]["value"], "-9007199254740991",
            "{adjusted}"
        );
        let counter =
            json!({"name": format!("c-{book}"), "amount": -1, "min": "-9007199254740991"});
        let refused = http
            .json("/rmw.v1.CountersService/AdjustCounter", &counter)
            .await
            .json();
        assert_eq!(refused["outOfBounds"]["which"], "BOUND_MIN", "{refused}");

        let too_big = http
            .json(
                "/rmw.v1.LedgerService/Credit",
                &credit("alice", json!("9223372036854775807")),
            )
            .await;
        assert_eq!(too_big.status, 400);
        let error = too_big.json();
        assert_eq!(error["code"], "invalid_argument");
        let violations =
            &detail(&error, "google.rpc.BadRequest").unwrap()["debug"]["fieldViolations"];
        assert_eq!(violations[0]["field"], "amount", "{error}");

        // Every byte value, through JSON in and gRPC out, and back.
        let key = format!("bytes-{book}");
        let all: Vec<u8> = (0..=255).collect();
        let swapped = http
            .json(CAS, &json!({"key": key, "newValue": STANDARD.encode(&all)}))
            .await
            .json();
        assert_eq!(swapped, json!({"swapped": {}}));
        let read = env
            .service
            .values()
            .get_value(GetValueRequest { key: key.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            read.outcome,
            Some(get_value_response::Outcome::Value(all.clone()))
        );
        let conflict = http
            .json(
                CAS,
                &json!({"key": key, "expected": "", "new_value": "eA=="}),
            )
            .await
            .json();
        assert_eq!(conflict["conflict"]["current"], STANDARD.encode(&all));

        // Enums by name, in replies.
        let store = format!("s-{book}");
        http.json(
            "/rmw.v1.InventoryService/SetStock",
            &json!({"store": store, "levels": [{"product": "mug", "quantity": 3}]}),
        )
        .await;
        let movements = http
            .json(
                "/rmw.v1.InventoryService/ListMovements",
                &json!({"store": store}),
            )
            .await
            .json();
        assert_eq!(movements["movements"][0]["kind"], "KIND_SET", "{movements}");
    }
}

/// `application/proto` bodies are the protobuf encoding, as gRPC's
/// messages without the frame.
#[tokio::test]
async fn proto_bodies_are_the_binary_encoding() {
    let env = Env::start().await;
    let http = Http::h1(env.service.addr);
    let request = CompareAndSwapRequest {
        key: "p".into(),
        new_value: Some(b"v".to_vec()),
        ..Default::default()
    };
    let reply = http
        .post(CAS, "application/proto", request.encode_to_vec(), &[])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/proto");
    let reply = rmw::proto::v1::CompareAndSwapResponse::decode(reply.body).unwrap();
    assert!(matches!(reply.outcome, Some(cas::Outcome::Swapped(_))));
}

/// Bodies that are not the method's request in JSON (truncated, the wrong
/// type, an unknown field, bad base64, an int64 past 2^63−1, an unknown
/// enum name, not UTF-8, not an object) are INVALID_ARGUMENT, 400, never
/// INTERNAL; nothing was called.
#[tokio::test]
async fn malformed_json_is_invalid_argument_never_internal() {
    let env = Env::start().await;
    let http = Http::h1(env.service.addr);
    let watch = "/rmw.v1.InventoryService/ListMovements";
    for (path, body) in [
        (CAS, &b"{\"key\":"[..]),
        (CAS, b"{\"key\": 5}"),
        (CAS, b"{\"key\": \"k\", \"nope\": 1}"),
        (CAS, b"{\"key\": \"k\", \"newValue\": \"%%%\"}"),
        (CAS, b"[]"),
        (CAS, b"\xff\xfe"),
        (CAS, b"{} trailing"),
        (
            "/rmw.v1.LedgerService/Credit",
            b"{\"amount\": \"9223372036854775808\"}",
        ),
        ("/rmw.v1.LedgerService/Credit", b"{\"amount\": 1.5}"),
        (watch, b"{\"store\": \"s\", \"pageSize\": -1}"),
    ] {
        let reply = http.post(path, "application/json", body, &[]).await;
        let error = reply.json();
        assert_eq!(
            (reply.status.as_u16(), error["code"].as_str()),
            (400, Some("invalid_argument")),
            "{}: {error}",
            String::from_utf8_lossy(body)
        );
    }
    let stream = http
        .post(
            "/rmw.v1.InventoryService/WatchMovements",
            "application/connect+json",
            enveloped(b"{\"store\": \"s\", \"start\": \"WATCH_START_SOMETIME\"}"),
            &[],
        )
        .await;
    let ends = envelopes(&stream.body);
    assert_eq!(ends.len(), 1);
    assert_eq!(
        (ends[0].0, &ends[0].1["error"]["code"]),
        (2, &json!("invalid_argument"))
    );
    let text = scrape(env.service.metrics_addr).await;
    assert!(!text.contains("code=\"INTERNAL\""), "{text}");
}

/// The same failing call over gRPC and over Connect fails alike: code,
/// message, and ErrorInfo / BadRequest / RetryInfo message for message, with
/// the HTTP status Connect maps the code to. Injected: an invalid
/// request, a reused request id, a Redis that is not there, a refused
/// caller and an unknown one under an access policy.
#[tokio::test]
async fn errors_are_the_same_as_grpc_with_connect_http_statuses() {
    let env = Env::start().await;
    let http = Http::h1(env.service.addr);
    let mut values = env.service.values();

    let invalid = CompareAndSwapRequest::default();
    let grpc = values.compare_and_swap(invalid).await.unwrap_err();
    let reply = http.json(CAS, &json!({})).await;
    assert_eq!(reply.status, 400);
    same_error(&reply.json(), &grpc);

    let first = json!({"key": "r", "newValue": "YQ==", "requestId": "id-1"});
    assert_eq!(http.json(CAS, &first).await.status, 200);
    let reused = CompareAndSwapRequest {
        key: "r".into(),
        new_value: Some(b"b".to_vec()),
        request_id: "id-1".into(),
        ..Default::default()
    };
    let grpc = values.compare_and_swap(reused).await.unwrap_err();
    let reply = http
        .json(
            CAS,
            &json!({"key": "r", "newValue": "Yg==", "requestId": "id-1"}),
        )
        .await;
    assert_eq!(reply.status, 409);
    same_error(&reply.json(), &grpc);

    // No Redis at all: UNAVAILABLE with a RetryInfo.
    let gone = Service::start(&format!("redis://127.0.0.1:{}", common::free_port())).await;
    let grpc = gone
        .values()
        .get_value(GetValueRequest { key: "k".into() })
        .await
        .unwrap_err();
    let reply = Http::h1(gone.addr)
        .json("/rmw.v1.ValuesService/GetValue", &json!({"key": "k"}))
        .await;
    assert_eq!(reply.status, 503);
    same_error(&reply.json(), &grpc);
    assert!(detail(&reply.json(), "google.rpc.RetryInfo").is_some());

    // Under a policy: no credentials, and a caller without the grant.
    let signer = crate::access::Signer::new();
    let files = crate::access::Files::new(
        "[[rule]]\nprincipals = [\"ops\"]\nmethods = [\"ValuesService/GetValue\"]\nvalues = [\"open:*\"]\n",
        &signer.public_pem,
    );
    let guarded = crate::access::start(&files).await;
    let http = Http::h1(guarded.service.addr);
    let mut values = guarded.service.values();
    let grpc = values
        .get_value(GetValueRequest { key: "k".into() })
        .await
        .unwrap_err();
    let reply = http
        .json("/rmw.v1.ValuesService/GetValue", &json!({"key": "k"}))
        .await;
    assert_eq!(reply.status, 401);
    same_error(&reply.json(), &grpc);

    let token = signer.token("ops");
    let grpc = values
        .get_value(crate::access::bearer(
            GetValueRequest {
                key: "secret".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    let authorization = format!("Bearer {token}");
    let reply = http
        .post(
            "/rmw.v1.ValuesService/GetValue",
            "application/json",
            r#"{"key": "secret"}"#,
            &[("authorization", &authorization)],
        )
        .await;
    assert_eq!(reply.status, 403);
    same_error(&reply.json(), &grpc);
    let allowed = http
        .post(
            "/rmw.v1.ValuesService/GetValue",
            "application/json",
            r#"{"key": "open:1"}"#,
            &[("authorization", &authorization)],
        )
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.json());
}

/// Errors only the HTTP path can have: a method that does not exist, a
/// unary content type for a stream, compression it does not speak, a
/// bad Connect-Timeout-Ms, a body over the message limit.
#[tokio::test]
async fn protocol_errors_are_connect_errors() {
    let env = Env::start_with(&[], &["--max-message-bytes", "2048"]).await;
    let http = Http::h1(env.service.addr);
    for (path, headers, body, status, code) in [
        (
            "/rmw.v1.ValuesService/Nope",
            vec![],
            "{}".to_owned(),
            501,
            "unimplemented",
        ),
        (
            "/rmw.v1.InventoryService/WatchMovements",
            vec![],
            "{}".to_owned(),
            501,
            "unimplemented",
        ),
        (
            CAS,
            vec![("content-encoding", "gzip")],
            "{}".to_owned(),
            501,
            "unimplemented",
        ),
        (
            CAS,
            vec![("connect-timeout-ms", "soon")],
            "{}".to_owned(),
            400,
            "invalid_argument",
        ),
        (
            CAS,
            vec![],
            format!("{{\"key\": \"{}\"}}", "k".repeat(5000)),
            400,
            "out_of_range",
        ),
    ] {
        let reply = http.post(path, "application/json", body, &headers).await;
        assert_eq!(
            (reply.status.as_u16(), reply.json()["code"].as_str()),
            (status, Some(code)),
            "{path} {headers:?}: {}",
            reply.json()
        );
    }
}

/// A watch over Connect streams the same events as over gRPC, as
/// envelopes, and ends with the status in the end-of-stream envelope:
/// here DEADLINE_EXCEEDED, from Connect-Timeout-Ms, which reached the
/// deadline layer as gRPC's grpc-timeout does. A refused watch (over
/// `--max-watches`) ends at once with RESOURCE_EXHAUSTED and its RetryInfo.
#[tokio::test]
async fn watches_stream_as_connect_envelopes() {
    let env = Env::start_with(&[], &["--max-watches", "1"]).await;
    let http = Http::h1(env.service.addr);
    for quantity in [3, 5] {
        http.json(
            "/rmw.v1.InventoryService/SetStock",
            &json!({"store": "s", "levels": [{"product": "mug", "quantity": quantity}]}),
        )
        .await;
    }
    let request = br#"{"store": "s", "start": "WATCH_START_OLDEST"}"#;
    let reply = http
        .post(
            "/rmw.v1.InventoryService/WatchMovements",
            "application/connect+json",
            enveloped(request),
            &[("connect-timeout-ms", "500")],
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/connect+json");
    let events = envelopes(&reply.body);
    let afters: Vec<_> = events
        .iter()
        .filter(|(flags, _)| *flags == 0)
        .map(|(_, event)| event["movement"]["after"].clone())
        .collect();
    assert_eq!(afters, [json!("3"), json!("5")], "{events:?}");
    let (flags, end) = events.last().unwrap();
    assert_eq!(
        (*flags, &end["error"]["code"]),
        (2, &json!("deadline_exceeded"))
    );

    // One watch open over gRPC takes the only place.
    let open = env
        .service
        .inventory()
        .watch_movements(watch_now())
        .await
        .unwrap()
        .into_inner();
    let refused = http
        .post(
            "/rmw.v1.InventoryService/WatchMovements",
            "application/connect+json",
            enveloped(request),
            &[],
        )
        .await;
    let events = envelopes(&refused.body);
    assert_eq!(events.len(), 1, "{events:?}");
    let error = &events[0].1["error"];
    assert_eq!(error["code"], "resource_exhausted", "{error}");
    assert!(detail(error, "google.rpc.RetryInfo").is_some(), "{error}");
    // Held open until here: it took the only place.
    drop(open);
}

/// Connect calls are counted like gRPC's, by method, code and outcome:
/// they pass the same per-RPC layer.
#[tokio::test]
async fn connect_calls_are_counted_like_grpc_calls() {
    let env = Env::start().await;
    let http = Http::h2(env.service.addr);
    http.json(CAS, &json!({"key": "m", "newValue": "YQ=="}))
        .await;
    http.json(CAS, &json!({"key": "m", "newValue": "YQ=="}))
        .await;
    http.json(CAS, &json!({})).await;
    let text = scrape(env.service.metrics_addr).await;
    let cas = "method=\"ValuesService/CompareAndSwap\"";
    for (labels, want) in [
        ("code=\"OK\",outcome=\"swapped\"", 1.0),
        ("code=\"OK\",outcome=\"conflict\"", 1.0),
        ("code=\"INVALID_ARGUMENT\",outcome=\"none\"", 1.0),
    ] {
        let series = format!("rmw_rpc_requests_total{{{cas},{labels}}}");
        assert_eq!(sample(&text, &series), Some(want), "{series}\n{text}");
    }
}

/// CORS is off by default (a preflight gets no grant); with
/// `--cors-origin`, a listed origin is granted the Connect and gRPC-Web
/// headers, another is not.
#[tokio::test]
async fn cors_grants_only_configured_origins() {
    let preflight = |origin: &str| {
        http::Request::options(CAS)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,connect-protocol-version",
            )
            .body(http_body_util::Full::default())
            .unwrap()
    };
    let send = |addr, origin: &str| {
        let request = preflight(origin);
        let uri = format!("http://{addr}{CAS}");
        let (mut parts, body) = request.into_parts();
        parts.uri = uri.parse().unwrap();
        async move {
            Http::h1(addr)
                .send(http::Request::from_parts(parts, body))
                .await
        }
    };
    let env = Env::start().await;
    let off = send(env.service.addr, "https://ops.example.com").await;
    assert!(
        off.headers.get("access-control-allow-origin").is_none(),
        "{off:?}"
    );

    let env = Env::start_with(&[], &["--cors-origin", "https://ops.example.com"]).await;
    let granted = send(env.service.addr, "https://ops.example.com").await;
    assert_eq!(
        granted.headers["access-control-allow-origin"],
        "https://ops.example.com"
    );
    let allowed = granted.headers["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("connect-protocol-version"), "{allowed}");
    let other = send(env.service.addr, "https://evil.example.com").await;
    assert!(
        other.headers.get("access-control-allow-origin").is_none(),
        "{other:?}"
    );
}

/// The console's files are served only with `--console`, with a content
/// security policy that keeps them to this origin.
#[tokio::test]
async fn the_console_is_served_only_when_asked() {
    let get = |addr| async move {
        let request = http::Request::get(format!("http://{addr}/console/"))
            .body(http_body_util::Full::default())
            .unwrap();
        Http::h1(addr).send(request).await
    };
    let env = Env::start().await;
    // Without it the path is no route of the API's (tonic answers such
    // with its own UNIMPLEMENTED).
    let absent = get(env.service.addr).await;
    assert!(absent.body.is_empty(), "{absent:?}");
    assert!(absent.headers.get("content-security-policy").is_none());
    let env = Env::start_with(&[], &["--console"]).await;
    let page = get(env.service.addr).await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("/console/app.js"));
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("connect-src 'self'"), "{policy}");
}

/// The status a gRPC watch ends with: refused at the call, or after its
/// events.
async fn grpc_watch_error<T>(
    call: impl Future<Output = Result<tonic::Response<tonic::Streaming<T>>, Status>>,
) -> Status {
    match call.await {
        Err(status) => status,
        Ok(stream) => {
            let mut stream = stream.into_inner();
            loop {
                match stream.message().await {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("the watch ended without an error"),
                    Err(status) => return status,
                }
            }
        }
    }
}

/// The end-of-stream error of a Connect watch `method` with `request`.
async fn connect_watch_error(
    http: &Http,
    method: &str,
    request: &Value,
    headers: &[(&str, &str)],
) -> Value {
    let reply = http
        .post(
            &format!("/rmw.v1.{method}"),
            "application/connect+json",
            enveloped(request.to_string().as_bytes()),
            headers,
        )
        .await;
    assert_eq!(reply.status, 200);
    let (flags, end) = envelopes(&reply.body).pop().unwrap();
    assert_eq!(flags, 2, "{end}");
    end["error"].clone()
}

/// A watch of store `s` from now on.
fn watch_now() -> WatchMovementsRequest {
    WatchMovementsRequest {
        store: "s".into(),
        start: WatchStart::Now.into(),
        ..Default::default()
    }
}

/// Watches end with the same errors over Connect as over gRPC. Injected:
/// a tag whose journal is off (FAILED_PRECONDITION), a deadline that
/// passes (DEADLINE_EXCEEDED), a watch over `--max-watches`
/// (RESOURCE_EXHAUSTED with RetryInfo).
#[tokio::test]
async fn watch_errors_are_the_same_as_grpc() {
    use rmw::proto::v1::WatchRecordsRequest;

    let env = Env::start_with(&[], &["--max-watches", "1"]).await;
    let http = Http::h1(env.service.addr);

    let grpc = grpc_watch_error(env.service.records().watch_records(WatchRecordsRequest {
        tag: "off".into(),
        start: WatchStart::Now.into(),
        ..Default::default()
    }))
    .await;
    let connect = connect_watch_error(
        &http,
        "RecordsService/WatchRecords",
        &json!({"tag": "off", "start": "WATCH_START_NOW"}),
        &[],
    )
    .await;
    assert_eq!(grpc.code(), Code::FailedPrecondition);
    same_error(&connect, &grpc);

    let mut timed = tonic::Request::new(watch_now());
    timed.set_timeout(std::time::Duration::from_millis(300));
    let grpc = grpc_watch_error(env.service.inventory().watch_movements(timed)).await;
    let connect = connect_watch_error(
        &http,
        "InventoryService/WatchMovements",
        &json!({"store": "s", "start": "WATCH_START_NOW"}),
        &[("connect-timeout-ms", "300")],
    )
    .await;
    assert_eq!(grpc.code(), Code::DeadlineExceeded);
    same_error(&connect, &grpc);

    let open = env
        .service
        .inventory()
        .watch_movements(watch_now())
        .await
        .unwrap()
        .into_inner();
    let grpc = grpc_watch_error(env.service.inventory().watch_movements(watch_now())).await;
    let connect = connect_watch_error(
        &http,
        "InventoryService/WatchMovements",
        &json!({"store": "s", "start": "WATCH_START_NOW"}),
        &[],
    )
    .await;
    assert_eq!(grpc.code(), Code::ResourceExhausted);
    same_error(&connect, &grpc);
    // Held open until here: it took the only place.
    drop(open);
}
