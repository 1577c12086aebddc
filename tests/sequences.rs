//! SequencesService: returned ids first, lowest first; no id held twice.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use rmw::proto::v1::{
    GetSequenceRequest, NextIdsRequest, RejectedId, ReturnIdsRequest, next_ids_response as next,
    rejected_id::Reason, return_ids_response as ret,
};
use tonic::transport::Channel;

use crate::common::{Env, assert_invalid};

type Client = rmw::proto::v1::sequences_service_client::SequencesServiceClient<Channel>;

async fn take(client: &mut Client, count: u32) -> Vec<i64> {
    let response = client
        .next_ids(NextIdsRequest {
            name: "invoices".into(),
            count,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(next::Outcome::Issued(issued)) = response.outcome else {
        panic!("{response:?}")
    };
    issued.ids
}

async fn give_back(client: &mut Client, ids: Vec<i64>) -> ret::Returned {
    let response = client
        .return_ids(ReturnIdsRequest {
            name: "invoices".into(),
            ids,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(ret::Outcome::Returned(returned)) = response.outcome else {
        panic!("{response:?}")
    };
    returned
}

/// New ids count up from 1; returned ids come back first, lowest first;
/// each refusal has its reason and changes nothing.
#[tokio::test]
async fn returned_ids_come_back_lowest_first() {
    let env = Env::start().await;
    let mut client = env.service.sequences();
    assert_eq!(take(&mut client, 10).await, (1..=10).collect::<Vec<_>>());
    let returned = give_back(&mut client, vec![7, 3, 9, 3, 0, -2, 11]).await;
    assert_eq!(returned.accepted, vec![7, 3, 9]);
    let rejected: Vec<(i64, Reason)> = returned
        .rejected
        .iter()
        .map(|r: &RejectedId| (r.id, r.reason()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (3, Reason::AlreadyFree),
            (0, Reason::NotPositive),
            (-2, Reason::NotPositive),
            (11, Reason::NeverIssued),
        ]
    );
    let before = env.snapshot().await;
    let again = give_back(&mut client, vec![9, 12]).await;
    assert!(again.accepted.is_empty());
    assert_eq!(env.snapshot().await, before, "refused returns wrote");
    assert_eq!(take(&mut client, 2).await, vec![3, 7]);
    assert_eq!(take(&mut client, 3).await, vec![9, 11, 12]);
    let state = client
        .get_sequence(GetSequenceRequest {
            name: "invoices".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((state.highest_issued, state.free_count), (12, 0));
}

/// 32 concurrent callers take 1–5 ids, hold them briefly and give them
/// back, 20 rounds each: no id is ever held by two callers at once, and at
/// the end every id issued is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_id_is_held_twice() {
    let env = Env::start().await;
    let held: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut tasks = Vec::new();
    for caller in 0..32_u32 {
        let mut client = env.service.sequences();
        let held = Arc::clone(&held);
        tasks.push(tokio::spawn(async move {
            let mut taken = 0;
            for round in 0..20_u32 {
                let count = 1 + (caller + round) % 5;
                let ids = take(&mut client, count).await;
                assert_eq!(ids.len(), count as usize);
                {
                    let mut held = held.lock().unwrap();
                    for id in &ids {
                        assert!(held.insert(*id), "id {id} handed to two callers at once");
                    }
                }
                tokio::task::yield_now().await;
                {
                    let mut held = held.lock().unwrap();
                    for id in &ids {
                        held.remove(id);
                    }
                }
                let returned = give_back(&mut client, ids.clone()).await;
                assert_eq!(returned.accepted, ids);
                taken += ids.len();
            }
            taken
        }));
    }
    let mut taken = 0;
    for task in tasks {
        taken += task.await.unwrap();
    }
    let state = env
        .service
        .sequences()
        .get_sequence(GetSequenceRequest {
            name: "invoices".into(),
        })
        .await
        .unwrap()
        .into_inner();
    println!(
        "sequences: 32 callers took {taken} ids in 640 requests; highest issued {}, free {}",
        state.highest_issued, state.free_count
    );
    assert_eq!(state.free_count, state.highest_issued);
    assert!(
        state.highest_issued <= 32 * 5,
        "ids were reused: at most 160 held at once"
    );
}

/// A retried NextIds with the same request id returns the same ids.
#[tokio::test]
async fn retries_return_the_same_ids() {
    let env = Env::start().await;
    let mut client = env.service.sequences();
    let request = NextIdsRequest {
        name: "invoices".into(),
        count: 3,
        request_id: "batch-1".into(),
    };
    let first = client.next_ids(request.clone()).await.unwrap().into_inner();
    let again = client.next_ids(request).await.unwrap().into_inner();
    assert_eq!((again.outcome, again.replayed), (first.outcome, true));
    assert_eq!(take(&mut client, 1).await, vec![4]);
}

/// The request rules; nothing is written.
#[tokio::test]
async fn refuses_malformed_requests() {
    let env = Env::start().await;
    let mut client = env.service.sequences();
    let before = env.snapshot().await;
    for (count, fields) in [(0, &["count"][..]), (1001, &["count"])] {
        let status = client
            .next_ids(NextIdsRequest {
                name: "invoices".into(),
                count,
                request_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_invalid(&status, "INVALID_ARGUMENT", fields);
    }
    let status = client
        .return_ids(ReturnIdsRequest {
            name: "in voices".into(),
            ids: vec![],
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "INVALID_ARGUMENT", &["name", "ids"]);
    assert_eq!(env.snapshot().await, before);
}
