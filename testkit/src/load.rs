//! Load for fault tests: writers of fresh keys, and a tally of answers.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use rmw::proto::v1::{
    CompareAndSwapRequest, compare_and_swap_response as cas,
    values_service_client::ValuesServiceClient,
};
use tokio::time::Instant;
use tonic::{Code, Request, transport::Channel};
use tonic_types::StatusExt;

/// A CAS that creates `key` with `value`.
pub fn create(key: &str, value: &str) -> CompareAndSwapRequest {
    CompareAndSwapRequest {
        key: key.into(),
        expected: None,
        new_value: Some(value.as_bytes().to_vec()),
        request_id: String::new(),
        fence: None,
    }
}

/// Answers seen by callers, by status code.
#[derive(Default)]
pub struct Tally {
    codes: Mutex<BTreeMap<String, u64>>,
    /// The first message seen with each failure code.
    samples: Mutex<BTreeMap<String, String>>,
}

impl Tally {
    /// Counts one answer with `code`.
    pub fn add(&self, code: Code) {
        *self
            .codes
            .lock()
            .unwrap()
            .entry(format!("{code:?}"))
            .or_default() += 1;
    }

    /// Counts a failure, keeping its message if it is the first of its code.
    pub fn add_failure(&self, status: &tonic::Status) {
        let code = client_code(status);
        self.add(code);
        self.samples
            .lock()
            .unwrap()
            .entry(format!("{code:?}"))
            .or_insert_with(|| status.message().to_owned());
    }

    /// The answers so far, by code name.
    pub fn get(&self) -> BTreeMap<String, u64> {
        self.codes.lock().unwrap().clone()
    }

    /// A message of each failure code seen.
    pub fn samples(&self) -> BTreeMap<String, String> {
        self.samples.lock().unwrap().clone()
    }

    /// Asserts every failure was retry-safe: UNAVAILABLE or DEADLINE_EXCEEDED.
    pub fn assert_retry_safe(&self) {
        for code in self.get().keys() {
            assert!(
                ["Ok", "Unavailable", "DeadlineExceeded"].contains(&code.as_str()),
                "a caller saw {code}: {:?} {:?}",
                self.get(),
                self.samples()
            );
        }
    }
}

/// The code a caller acts on. tonic's channel enforces the deadline
/// itself and, when its timer fires before the server's DEADLINE_EXCEEDED
/// arrives, reports CANCELLED "Timeout expired": the same deadline, seen
/// first by the client (grpc-go and grpc-java say DEADLINE_EXCEEDED).
pub fn client_code(status: &tonic::Status) -> Code {
    if status.code() == Code::Cancelled && status.message() == "Timeout expired" {
        Code::DeadlineExceeded
    } else {
        status.code()
    }
}

/// Writers that create fresh keys (`w<writer>-<n>` = n) until stopped,
/// recording every acknowledged key.
pub struct Writers {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(String, String)>>>,
    acks: Arc<AtomicU64>,
    failed: Arc<Mutex<Vec<String>>>,
    tally: Arc<Tally>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The key writer `w` creates in its `n`th call.
pub type KeyOf = Arc<dyn Fn(usize, u64) -> String + Send + Sync>;

impl Writers {
    /// Writers of keys `w<writer>-<n>`.
    pub fn start(channel: &Channel, writers: usize) -> Self {
        Self::start_keyed(
            channel,
            writers,
            &(Arc::new(|w, n| format!("w{w}-{n}")) as KeyOf),
        )
    }

    /// Writers of the keys `key_of` names.
    pub fn start_keyed(channel: &Channel, writers: usize, key_of: &KeyOf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let acks = Arc::new(AtomicU64::new(0));
        let tally = Arc::new(Tally::default());
        let failed = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..writers)
            .map(|w| {
                let mut values = ValuesServiceClient::new(channel.clone());
                let key_of = Arc::clone(key_of);
                let (stop, acked, acks, tally, failed) = (
                    Arc::clone(&stop),
                    Arc::clone(&acked),
                    Arc::clone(&acks),
                    Arc::clone(&tally),
                    Arc::clone(&failed),
                );
                tokio::spawn(async move {
                    let mut n = 0_u64;
                    while !stop.load(Ordering::Relaxed) {
                        let (key, value) = (key_of(w, n), n.to_string());
                        let mut request = Request::new(create(&key, &value));
                        request.set_timeout(Duration::from_secs(2));
                        match values.compare_and_swap(request).await {
                            Ok(reply) => {
                                assert_eq!(
                                    reply.into_inner().outcome,
                                    Some(cas::Outcome::Swapped(cas::Swapped {}))
                                );
                                acked.lock().unwrap().push((key, value));
                                acks.fetch_add(1, Ordering::Relaxed);
                                tally.add(Code::Ok);
                            }
                            Err(status) => {
                                // The service's own UNAVAILABLE carries a retry
                                // hint; a refused connection (the service
                                // gone) is the client's and carries none.
                                let details = status.get_error_details();
                                if status.code() == Code::Unavailable
                                    && details.error_info().is_some()
                                {
                                    assert!(details.retry_info().is_some(), "{status:?}");
                                }
                                tally.add_failure(&status);
                                failed.lock().unwrap().push(key);
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        Self {
            stop,
            acked,
            acks,
            failed,
            tally,
            tasks,
        }
    }

    /// Waits until `n` more writes have been acknowledged.
    pub async fn wait_for(&self, n: u64, within: Duration) {
        let target = self.acks.load(Ordering::Relaxed) + n;
        let started = Instant::now();
        while self.acks.load(Ordering::Relaxed) < target {
            assert!(started.elapsed() < within, "writes did not progress");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the writers: the acknowledged keys and values, the keys of
    /// the calls that failed, and the tally of answers.
    pub async fn stop(self) -> (Vec<(String, String)>, Vec<String>, Arc<Tally>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let acked = self.acked.lock().unwrap().clone();
        let failed = self.failed.lock().unwrap().clone();
        (acked, failed, self.tally)
    }
}
