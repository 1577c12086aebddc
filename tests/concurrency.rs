//! Many callers on one value: compare-and-swap loses no update.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use rmw::proto::v1::{
    CompareAndSwapRequest, GetValueRequest, compare_and_swap_response as cas,
    get_value_response as get,
};

use crate::common::Env;

const CALLERS: u64 = 32;
const INCREMENTS_EACH: u64 = 25;

/// 32 callers each increment one counter 25 times through read + CAS retry
/// loops; the final value equals the number of successful swaps (800), so
/// no swap was lost or applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_retry_loops_lose_no_update() {
    let env = Env::start().await;
    let swaps = Arc::new(AtomicU64::new(0));
    let conflicts = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let mut values = env.service.values();
        let (swaps, conflicts) = (Arc::clone(&swaps), Arc::clone(&conflicts));
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < INCREMENTS_EACH {
                let current = match values
                    .get_value(GetValueRequest {
                        key: "counter".into(),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .outcome
                    .unwrap()
                {
                    get::Outcome::Value(v) => Some(v),
                    get::Outcome::NotFound(_) => None,
                };
                let n: u64 = current
                    .as_deref()
                    .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
                let outcome = values
                    .compare_and_swap(CompareAndSwapRequest {
                        key: "counter".into(),
                        expected: current,
                        new_value: Some((n + 1).to_string().into_bytes()),
                        request_id: String::new(),
                        fence: None,
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .outcome
                    .unwrap();
                match outcome {
                    cas::Outcome::Swapped(_) => {
                        swaps.fetch_add(1, Ordering::Relaxed);
                        done += 1;
                    }
                    cas::Outcome::Conflict(_) => {
                        conflicts.fetch_add(1, Ordering::Relaxed);
                    }
                    cas::Outcome::Fenced(f) => panic!("an unfenced write was fenced: {f:?}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let last = env
        .service
        .values()
        .get_value(GetValueRequest {
            key: "counter".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .outcome
        .unwrap();
    let swaps = swaps.load(Ordering::Relaxed);
    println!(
        "cas retry loops: {CALLERS} callers, {swaps} swaps, {} conflicts",
        conflicts.load(Ordering::Relaxed)
    );
    assert_eq!(swaps, CALLERS * INCREMENTS_EACH);
    assert_eq!(last, get::Outcome::Value(swaps.to_string().into_bytes()));
}
