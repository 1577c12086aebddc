//! Linearizability of CompareAndSwap/GetValue and PutRecord/GetRecord under
//! concurrency, added latency and lost replies, checked per key.

use std::{sync::Arc, time::Duration};

use rmw::proto::v1::{
    CompareAndSwapRequest, GetRecordRequest, GetValueRequest, PutRecordRequest,
    compare_and_swap_response as cas, get_value_response as get, put_record_response as put,
};
use tokio::{sync::Mutex, time::Instant};
use tonic::{Code, Request};

use crate::common::{
    self, Service,
    linearizability::{
        CasResult, Entry, PutResult, Record, RecordOp, Register, RegisterOp, linearizable,
    },
    load::client_code,
    proxy::Proxy,
};

const CLIENTS: u64 = 6;
const KEYS: u64 = 3;
const OPS_EACH: u64 = 60;

/// A deterministic generator, seeded per client: a run is reproducible.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

type Histories<O> = Arc<Mutex<Vec<Vec<Entry<O>>>>>;

/// Whether the call's outcome is unknown and may be retried. The caller's
/// deadline may be seen first by the client (`client_code`).
fn retryable(code: Code) -> bool {
    matches!(code, Code::Unavailable | Code::DeadlineExceeded)
}

/// Runs the clients against `service`; each operation is recorded with its
/// invocation and (if it answered) response time, per key.
async fn run(
    service: &Service,
    seed: u64,
    epoch: Instant,
) -> (Histories<RegisterOp>, Histories<RecordOp>) {
    let values: Histories<RegisterOp> =
        Arc::new(Mutex::new((0..KEYS).map(|_| Vec::new()).collect()));
    let records: Histories<RecordOp> =
        Arc::new(Mutex::new((0..KEYS).map(|_| Vec::new()).collect()));
    let now = move || epoch.elapsed().as_nanos();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (mut vclient, mut rclient) = (service.values(), service.records());
        let (values, records) = (Arc::clone(&values), Arc::clone(&records));
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(seed ^ (client + 1).wrapping_mul(0x9e37_79b9));
            let mut seen_value: Vec<Option<Vec<u8>>> = vec![None; KEYS as usize];
            let mut seen_version = vec![0_u64; KEYS as usize];
            for n in 0..OPS_EACH {
                let k = rng.below(KEYS);
                let key = format!("k{k}");
                let call = now();
                match rng.below(4) {
                    0 => {
                        let mut request = Request::new(GetValueRequest { key });
                        request.set_timeout(Duration::from_secs(1));
                        if let Ok(r) = vclient.get_value(request).await {
                            let v = match r.into_inner().outcome {
                                Some(get::Outcome::Value(v)) => Some(v),
                                _ => None,
                            };
                            seen_value[k as usize].clone_from(&v);
                            values.lock().await[k as usize].push(Entry {
                                call,
                                ret: Some(now()),
                                op: RegisterOp::Read(v),
                            });
                        }
                    }
                    1 => {
                        let expected = seen_value[k as usize].clone();
                        let new = Some(format!("c{client}-{n}").into_bytes());
                        let mut request = Request::new(CompareAndSwapRequest {
                            key,
                            expected: expected.clone(),
                            new_value: new.clone(),
                            request_id: String::new(),
                            fence: None,
                        });
                        request.set_timeout(Duration::from_secs(1));
                        let (result, ret) = match vclient.compare_and_swap(request).await {
                            Ok(r) => match r.into_inner().outcome {
                                Some(cas::Outcome::Swapped(_)) => (CasResult::Swapped, Some(now())),
                                Some(cas::Outcome::Conflict(c)) => {
                                    (CasResult::Conflict(c.current), Some(now()))
                                }
                                Some(cas::Outcome::Fenced(f)) => panic!("fenced: {f:?}"),
                                None => panic!("no outcome"),
                            },
                            Err(status) if retryable(client_code(&status)) => {
                                (CasResult::Unknown, None)
                            }
                            Err(status) => panic!("{status:?}"),
                        };
                        values.lock().await[k as usize].push(Entry {
                            call,
                            ret,
                            op: RegisterOp::Cas {
                                expected,
                                new,
                                result,
                            },
                        });
                    }
                    2 => {
                        let mut request = Request::new(GetRecordRequest { key });
                        request.set_timeout(Duration::from_secs(1));
                        if let Ok(r) = rclient.get_record(request).await {
                            let r = r.into_inner();
                            seen_version[k as usize] = r.version;
                            records.lock().await[k as usize].push(Entry {
                                call,
                                ret: Some(now()),
                                op: RecordOp::Read(r.version, r.value),
                            });
                        }
                    }
                    _ => {
                        let expected = seen_version[k as usize];
                        let value = format!("r{client}-{n}").into_bytes();
                        let mut request = Request::new(PutRecordRequest {
                            key,
                            value: value.clone(),
                            expected_version: expected,
                            request_id: String::new(),
                            fence: None,
                        });
                        request.set_timeout(Duration::from_secs(1));
                        let (result, ret) = match rclient.put_record(request).await {
                            Ok(r) => match r.into_inner().outcome {
                                Some(put::Outcome::Written(w)) => {
                                    (PutResult::Written(w.version), Some(now()))
                                }
                                Some(put::Outcome::VersionMismatch(m)) => {
                                    (PutResult::Mismatch(m.actual, m.current_value), Some(now()))
                                }
                                Some(put::Outcome::Fenced(f)) => panic!("fenced: {f:?}"),
                                None => panic!("no outcome"),
                            },
                            Err(status) if retryable(client_code(&status)) => {
                                (PutResult::Unknown, None)
                            }
                            Err(status) => panic!("{status:?}"),
                        };
                        records.lock().await[k as usize].push(Entry {
                            call,
                            ret,
                            op: RecordOp::Put {
                                expected,
                                value,
                                result,
                            },
                        });
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (values, records)
}

/// Injected: none, then 1 ms of latency on every proxied chunk, then 1 ms
/// and 5 % of script replies lost. Asserted: for every key, the history of
/// 6 clients' CompareAndSwap/GetValue (and PutRecord/GetRecord) calls —
/// answered, or unknown where the reply was lost — is linearizable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_are_linearizable() {
    let seed = 0x11ea_5eed_u64;
    for (phase, latency_ms, lost_percent) in [
        ("clean", 0, 0),
        ("latency", 1, 0),
        ("latency+lost replies", 1, 5),
    ] {
        let redis = common::redis(&[]).await;
        let proxy = Proxy::start(redis.port()).await;
        let service = Service::start(&proxy.url()).await.ready().await;
        proxy.latency(latency_ms);
        proxy.lose_replies(lost_percent);
        let (values, records) = run(&service, seed, Instant::now()).await;
        let (values, records) = (values.lock().await, records.lock().await);
        let mut checked = (0, 0);
        for history in values.iter() {
            assert!(
                linearizable(&Register, &None, history),
                "{phase}: values history not linearizable (seed {seed:#x}): {history:?}"
            );
            checked.0 += history.len();
            checked.1 += history.iter().filter(|e| e.ret.is_none()).count();
        }
        for history in records.iter() {
            assert!(
                linearizable(&Record, &(0, Vec::new()), history),
                "{phase}: records history not linearizable (seed {seed:#x}): {history:?}"
            );
            checked.0 += history.len();
            checked.1 += history.iter().filter(|e| e.ret.is_none()).count();
        }
        println!(
            "linearizability, {phase} (seed {seed:#x}): {} operations on {KEYS} value and {KEYS} record keys by {CLIENTS} clients, {} with unknown outcome, {} replies lost: linearizable",
            checked.0,
            checked.1,
            proxy.lost()
        );
    }
}
