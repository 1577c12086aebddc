//! Redis Cluster: the same API on 3 primaries with a replica each, through
//! a slot migration and a primary's failover (docs/RELIABILITY.md).
//!
//! Each test starts its own cluster on loopback (`common::cluster`).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use redis::AsyncCommands;
use rmw::{
    dev_redis::RedisProcess,
    proto::v1::{
        CompareAndSwapRequest, ConditionalUpdateRequest, CreditRequest, GetBalancesRequest,
        GetScriptStatusRequest, GetStockRequest, RestockRequest, Write,
        admin_service_client::AdminServiceClient, conditional_update_response as update,
        values_service_client::ValuesServiceClient,
    },
    redis::slot::slot,
};
use tokio::time::Instant;
use tonic::{Code, Request};
use tonic_health::pb::health_check_response::ServingStatus;

use crate::{
    common::{
        Binary, Service, assert_invalid,
        cluster::Cluster,
        load::{KeyOf, Writers, create},
        pki::Pki,
        sample, scrape, unique_prefix,
    },
    readme,
};

/// Every README example (every service's main flows, errors included)
/// prints what the README shows when the built binary is pointed at a
/// Redis Cluster by two seed URLs, as the least-privilege user of
/// `deploy/redis/rmw-cluster.acl` (quoted in the README).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_examples_on_a_cluster() {
    let rule = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/redis/rmw-cluster.acl"
    ))
    .unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(rule.trim()),
        "README must quote rmw-cluster.acl"
    );
    let setuser: Vec<String> = rule
        .trim()
        .trim_start_matches("user ")
        .replace("CHANGE-ME", "s3cret")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let cluster = Cluster::start().await;
    for node in &cluster.nodes {
        let () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(&setuser)
            .query_async(&mut cluster.conn(node.port()).await)
            .await
            .unwrap();
    }
    let urls: Vec<String> = cluster
        .nodes
        .iter()
        .take(2)
        .map(|n| format!("redis://rmw:s3cret@127.0.0.1:{}", n.port()))
        .collect();
    let binary = Binary::spawn(&["--redis-url", &urls.join(",")]).await;
    let addr = binary.endpoint.uri().authority().unwrap().to_string();
    tokio::task::block_in_place(|| readme::run_examples(&addr));
}

/// A cluster whose nodes speak TLS (client ports, bus, replication) and ask
/// every client for a certificate (`tls-auth-clients yes`), as the
/// production overlay deploys one. Asserted: the built binary, given two
/// `rediss://` seed URLs, its client certificate (`--redis-tls-cert`,
/// `--redis-tls-key`) and the test CA (`--redis-tls-ca`), serves
/// calls on keys in every primary's slots, reports its scripts loaded on
/// the three primaries at their TLS ports (its per-node check connections
/// are TLS too), and every primary sees its connections on the TLS port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_seeds_reach_a_tls_cluster() {
    let pki = Pki::new();
    let cluster = Cluster::start_mtls(&pki).await;
    let seeds: Vec<String> = cluster
        .tls_ports
        .iter()
        .take(2)
        .map(|port| format!("rediss://127.0.0.1:{port}"))
        .collect();
    let prefix = unique_prefix();
    let (cert, key, ca) = (
        Pki::arg(&pki.client_cert),
        Pki::arg(&pki.client_key),
        Pki::arg(&pki.ca),
    );
    let binary = Binary::spawn(&[
        "--redis-url",
        &seeds.join(","),
        "--key-prefix",
        &prefix,
        "--redis-tls-cert",
        &cert,
        "--redis-tls-key",
        &key,
        "--redis-tls-ca",
        &ca,
    ])
    .await;
    let mut values = ValuesServiceClient::new(binary.channel.clone());
    let seed = cluster.nodes[0].port();
    let mut served_by = BTreeSet::new();
    for n in 0..30 {
        let key = format!("k{n}");
        served_by.insert(
            cluster
                .primary_of(seed, slot(&format!("{prefix}:val:{key}")))
                .await,
        );
        values
            .compare_and_swap(create(&key, "v"))
            .await
            .unwrap_or_else(|status| panic!("{key}: {status:?}"));
    }
    assert_eq!(served_by.len(), 3, "the keys span every primary");

    // The primaries, by plaintext port (the harness's view) and TLS port.
    let primaries: BTreeMap<u16, u16> = cluster
        .primaries(seed)
        .await
        .into_values()
        .map(|port| {
            let at = cluster.nodes.iter().position(|n| n.port() == port).unwrap();
            (port, cluster.tls_ports[at])
        })
        .collect();
    let status = AdminServiceClient::new(binary.channel.clone())
        .get_script_status(GetScriptStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let tls_nodes: BTreeSet<String> = primaries
        .values()
        .map(|tls| format!("127.0.0.1:{tls}"))
        .collect();
    for script in &status.scripts {
        let nodes: BTreeSet<String> = script.nodes.iter().map(|n| n.node.clone()).collect();
        assert_eq!(nodes, tls_nodes, "{}", script.name);
        assert!(script.nodes.iter().all(|n| n.loaded), "{script:?}");
    }
    let mut on_tls = BTreeMap::new();
    for (port, tls) in &primaries {
        let clients: String = redis::cmd("CLIENT")
            .arg("LIST")
            .arg("TYPE")
            .arg("normal")
            .query_async(&mut cluster.conn(*port).await)
            .await
            .unwrap();
        let count = clients
            .lines()
            .filter(|l| l.contains(&format!("laddr=127.0.0.1:{tls} ")))
            .count();
        on_tls.insert(*tls, count);
    }
    println!(
        "TLS cluster: 30 calls over rediss:// seeds, served by primaries {served_by:?}; rmw's connections by primary TLS port {on_tls:?}"
    );
    assert!(on_tls.values().all(|&n| n > 0), "{on_tls:?}");
}

/// Keys that exercise hash tags: empty, unclosed and repeated braces,
/// multi-byte text, and pseudo-random mixes of them.
fn slot_test_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "",
        "{",
        "}",
        "{}",
        "{}x",
        "x{}",
        "a{b}c",
        "a{{b}}",
        "{a}{b}",
        "{{}}",
        "foo{}{bar}",
        "ключ",
        "{ключ}:x",
        "😀{😀}",
    ]
    .map(str::to_owned)
    .to_vec();
    let alphabet: Vec<char> = "ab{}:-_09üé😀".chars().collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..500 {
        let mut key = String::new();
        // xorshift: a fixed, reproducible sequence.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        for i in 0..(state % 12) {
            key.push(alphabet[((state >> (i * 4)) % alphabet.len() as u64) as usize]);
        }
        keys.push(key);
    }
    keys
}

/// On a cluster: the service's slot of every test key equals `CLUSTER
/// KEYSLOT`; a ConditionalUpdate across slots is refused with CROSS_SLOT
/// and one within a `{tag}` is applied, as is a fence whose lease is in
/// another slot than its data; stores and books land on every
/// primary (shown: each key exists on the primary that serves its slot);
/// scripts are reported loaded on each primary; and a `SCRIPT FLUSH` on
/// one primary is recovered invisibly, reloading there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_and_books_spread_over_the_primaries() {
    let cluster = Cluster::start().await;
    let seed = cluster.nodes[0].port();
    let service = Service::start_with(&cluster.nodes[0].url(), &["--redis-cluster"])
        .await
        .ready()
        .await;
    let mut conn = cluster.conn(seed).await;

    let keys = slot_test_keys();
    for key in &keys {
        let expected: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(slot(key), expected, "slot of {key:?}");
    }
    println!("slots of {} keys equal CLUSTER KEYSLOT", keys.len());

    let mut values = service.values();
    let status = values
        .conditional_update(ConditionalUpdateRequest {
            conditions: vec![],
            writes: vec![write("cart:1", "a"), write("cart:2", "b")],
            request_id: String::new(),
            fence: None,
        })
        .await
        .unwrap_err();
    let prefix = &service.prefix;
    assert_ne!(
        slot(&format!("{prefix}:val:cart:1")),
        slot(&format!("{prefix}:val:cart:2"))
    );
    assert_invalid(&status, "CROSS_SLOT", &["writes[1].key"]);
    let applied = values
        .conditional_update(ConditionalUpdateRequest {
            conditions: vec![],
            writes: vec![write("cart{7}:items", "a"), write("cart{7}:total", "b")],
            request_id: "cart-7".into(),
            fence: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        applied.outcome,
        Some(update::Outcome::Applied(update::Applied { writes: 2 }))
    ));

    // A fence whose lease is in another slot than the data is refused up
    // front; a lease of the data's {tag} fences it.
    let mut leases = service.leases();
    let granted = leases
        .acquire(rmw::proto::v1::AcquireRequest {
            name: "lock{7}".into(),
            owner: "me".into(),
            ttl: Some(prost_types::Duration {
                seconds: 10,
                nanos: 0,
            }),
            limit: 1,
            wait: false,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(rmw::proto::v1::acquire_response::Outcome::Acquired(grant)) = granted.outcome else {
        panic!("{granted:?}")
    };
    let fenced = |lease: &str| ConditionalUpdateRequest {
        conditions: vec![],
        writes: vec![write("cart{7}:items", "c")],
        request_id: String::new(),
        fence: Some(rmw::proto::v1::Fence {
            lease: lease.into(),
            token: grant.token,
        }),
    };
    let status = values.conditional_update(fenced("lock")).await.unwrap_err();
    assert_invalid(&status, "CROSS_SLOT", &["fence.lease"]);
    let applied = values
        .conditional_update(fenced("lock{7}"))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(applied.outcome, Some(update::Outcome::Applied(_))),
        "{applied:?}"
    );

    // Which primary serves which slot, as the cluster says.
    let topology = cluster.topology(seed).await;
    let primary_of = |key: &str| {
        let slot = slot(key);
        topology
            .iter()
            .find(|n| n.primary && n.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot)))
            .map(|n| n.port)
            .unwrap()
    };
    let mut stores: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    let mut books: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for i in 0..12 {
        let (store, book) = (format!("store-{i}"), format!("book-{i}"));
        let stock_key = format!("{prefix}:inv:{{{store}}}:stock");
        let balances_key = format!("{prefix}:led:{{{book}}}:bal");
        service
            .inventory()
            .restock(RestockRequest {
                store: store.clone(),
                product: "tee".into(),
                quantity: i + 1,
                request_id: String::new(),
            })
            .await
            .unwrap();
        service
            .ledger()
            .credit(CreditRequest {
                book: book.clone(),
                account: "alice".into(),
                amount: 100 + i,
                ..Default::default()
            })
            .await
            .unwrap();
        let levels = service
            .inventory()
            .get_stock(GetStockRequest {
                store: store.clone(),
                products: vec!["tee".into()],
            })
            .await
            .unwrap()
            .into_inner()
            .levels;
        assert_eq!(levels[0].quantity, i + 1);
        let balances = service
            .ledger()
            .get_balances(GetBalancesRequest {
                book: book.clone(),
                accounts: vec!["alice".into()],
            })
            .await
            .unwrap()
            .into_inner()
            .balances;
        assert_eq!(balances[0].balance, 100 + i);
        // A plain connection to a node answers MOVED for a key it does not
        // serve: EXISTS = 1 shows the key is stored on that very node.
        for (key, owner, by_node) in [
            (&stock_key, primary_of(&stock_key), &mut stores),
            (&balances_key, primary_of(&balances_key), &mut books),
        ] {
            let exists: bool = cluster.conn(owner).await.exists(key).await.unwrap();
            assert!(exists, "{key} not on its primary 127.0.0.1:{owner}");
            by_node
                .entry(owner)
                .or_default()
                .push(key.split(['{', '}']).nth(1).unwrap().to_owned());
        }
    }
    println!("stores by primary: {stores:?}");
    println!("books by primary: {books:?}");
    assert_eq!(stores.len(), 3, "stores on every primary: {stores:?}");
    assert_eq!(books.len(), 3, "books on every primary: {books:?}");

    // Every script is loaded on each primary, and on nothing else.
    let primaries: BTreeSet<String> = cluster
        .primaries(seed)
        .await
        .values()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    let status = service
        .admin()
        .get_script_status(GetScriptStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    for script in &status.scripts {
        let nodes: BTreeSet<String> = script.nodes.iter().map(|n| n.node.clone()).collect();
        assert_eq!(nodes, primaries, "{}", script.name);
        assert!(script.nodes.iter().all(|n| n.loaded), "{script:?}");
    }

    // SCRIPT FLUSH on the primary of one key: the next call there finds
    // NOSCRIPT, loads the script on that node and succeeds.
    let key = "after-flush";
    let owner = primary_of(&format!("{prefix}:val:{key}"));
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut cluster.conn(owner).await)
        .await
        .unwrap();
    values.compare_and_swap(create(key, "x")).await.unwrap();
    let reloads = service
        .admin()
        .get_script_status(GetScriptStatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .scripts
        .into_iter()
        .find(|s| s.name == "values_cas")
        .unwrap()
        .nodes
        .into_iter()
        .find(|n| n.node == format!("127.0.0.1:{owner}"))
        .unwrap()
        .reloads;
    assert!(reloads >= 1, "values_cas not reloaded on 127.0.0.1:{owner}");
}

fn write(key: &str, value: &str) -> Write {
    Write {
        key: key.into(),
        value: Some(value.as_bytes().to_vec()),
    }
}

/// Acknowledged keys whose value is not in the cluster, read through a
/// cluster connection of the test's own.
async fn missing(cluster: &Cluster, prefix: &str, acked: &[(String, String)]) -> Vec<String> {
    let mut conn = cluster.client().await;
    let mut missing = Vec::new();
    for (key, value) in acked {
        let stored: Option<String> = conn.get(format!("{prefix}:val:{key}")).await.unwrap();
        if stored.as_deref() != Some(value.as_str()) {
            missing.push(key.clone());
        }
    }
    missing
}

/// Injected: SIGKILL of the primary serving a probe key, under 8 writers
/// creating keys in every slot. Asserted: callers saw only OK, UNAVAILABLE
/// or DEADLINE_EXCEEDED (never UNKNOWN or INTERNAL); the replica was
/// promoted; readiness went NOT_SERVING and back to SERVING, and writes to
/// the failed slots resumed, without restarting the service; acknowledged
/// writes on the other primaries are all there. Printed: answers by code,
/// time to recover, and how many writes acknowledged by the killed primary
/// the promoted replica lacks (asynchronous replication's window).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_killed_under_load_fails_over() {
    // A short node timeout, so that the failover takes about two seconds.
    let mut cluster = Cluster::start_with_node_timeout(Duration::from_secs(1)).await;
    let seed = cluster.nodes[0].port();
    let service = Service::start_with(&cluster.urls(), &[])
        .await
        .ready()
        .await;
    let prefix = service.prefix.clone();
    let writers = Writers::start(&service.channel, 8);
    writers.wait_for(300, Duration::from_secs(30)).await;

    let probe_key = "probe";
    let probe_slot = slot(&format!("{prefix}:val:{probe_key}"));
    let victim = cluster.primary_of(seed, probe_slot).await;
    let survivor = cluster
        .nodes
        .iter()
        .map(RedisProcess::port)
        .find(|p| *p != victim)
        .unwrap();
    let victim_slots: Vec<(u16, u16)> = cluster
        .topology(seed)
        .await
        .into_iter()
        .find(|n| n.port == victim)
        .unwrap()
        .slots;
    let created = "rmw_redis_connections_created_total";
    let created_before = sample(&scrape(service.metrics_addr).await, created).unwrap();
    cluster.kill(victim);
    let killed = Instant::now();
    service
        .wait_health("", ServingStatus::NotServing, Duration::from_secs(10))
        .await;

    // The probe writes to the failed slot until one is acknowledged.
    // Without tonic's local deadline: the service's own answers count.
    let mut values = service.values_without_local_deadline();
    let mut probe_errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut n = 0;
    let mut last = None;
    let recovered = loop {
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "no recovery: {probe_errors:?}, last {last:?}, topology {:?}, logs {:?}",
            cluster.topology(survivor).await,
            cluster
                .nodes
                .iter()
                .map(|n| cluster.log(n.port()))
                .collect::<Vec<_>>()
        );
        let mut request = Request::new(CompareAndSwapRequest {
            key: probe_key.into(),
            expected: None,
            new_value: Some(format!("{n}").into_bytes()),
            request_id: format!("probe-{n}"),
            fence: None,
        });
        request.set_timeout(Duration::from_millis(500));
        match values.compare_and_swap(request).await {
            Ok(_) => break killed.elapsed(),
            Err(status) => {
                assert!(
                    matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded),
                    "{status:?}"
                );
                *probe_errors
                    .entry(format!("{:?}", status.code()))
                    .or_default() += 1;
                last = Some(status);
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // Nodes learn of the promotion by gossip: the survivor asked may lag.
    let promoted = loop {
        let primary = cluster.primary_of(survivor, probe_slot).await;
        if primary != victim {
            break primary;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "no promotion seen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    service
        .wait_health("", ServingStatus::Serving, Duration::from_secs(30))
        .await;
    let serving = killed.elapsed();
    // The promoted primary has every script; the dead node is forgotten.
    let nodes: BTreeSet<String> = service
        .admin()
        .get_script_status(GetScriptStatusRequest {})
        .await
        .unwrap()
        .into_inner()
        .scripts
        .iter()
        .flat_map(|s| s.nodes.iter().filter(|n| n.loaded).map(|n| n.node.clone()))
        .collect();
    assert!(
        nodes.contains(&format!("127.0.0.1:{promoted}")),
        "{nodes:?}"
    );
    assert!(!nodes.contains(&format!("127.0.0.1:{victim}")), "{nodes:?}");
    writers.wait_for(300, Duration::from_secs(30)).await;
    let (acked, _failed, tally) = writers.stop().await;

    let in_victim = |key: &str| {
        let slot = slot(&format!("{prefix}:val:{key}"));
        victim_slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))
    };
    let missing = missing(&cluster, &prefix, &acked).await;
    let resends = resends(&service).await;
    let (lost_on_victim, lost_elsewhere): (Vec<_>, Vec<_>) =
        missing.iter().partition(|k| in_victim(k));
    println!(
        "primary 127.0.0.1:{victim} SIGKILLed under load; 127.0.0.1:{promoted} promoted; \
         writes to its slots recovered {recovered:?} after the kill, SERVING again after {serving:?}; \
         probe errors {probe_errors:?}; writers' answers {:?}; {} acknowledged writes, \
         {} of them to the failed primary's slots missing after failover (asynchronous replication), \
         {} missing elsewhere; calls sent again {resends:?}",
        tally.get(),
        acked.len(),
        lost_on_victim.len(),
        lost_elsewhere.len(),
    );
    tally.assert_retry_safe();
    assert!(lost_elsewhere.is_empty(), "{lost_elsewhere:?}");
    let metrics = scrape(service.metrics_addr).await;
    let errors = sample(&metrics, "rmw_redis_errors_total{kind=\"internal\"}");
    assert_eq!(errors, Some(0.0));
    // The cluster connection reconnected inside itself (to the promoted
    // replica at least): the connection count says so.
    let created_after = sample(&metrics, created).unwrap();
    println!("connections created: {created_before} before the kill, {created_after} after");
    assert!(
        created_after > created_before,
        "{created_before} -> {created_after}"
    );
}

/// Injected: `redis-cli --cluster reshard` of 32 slots from one primary to
/// another while 8 writers create keys in exactly those slots. Asserted:
/// every call succeeded (MOVED, ASK and TRYAGAIN were followed inside the
/// service, and counted), every acknowledged write is on the primary that
/// now serves its slot, and nothing was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshard_under_load_loses_nothing() {
    reshard_under_load(false).await;
}

/// Injected: growing the cluster under load, as users scale out: a
/// seventh node joins as an empty primary while the service runs, and 32
/// slots are resharded to it while 8 writers create keys in exactly those
/// slots. The service has no connection to the new node when the first
/// ASK names it. Asserted: as for a reshard between existing primaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_out_to_a_new_primary_loses_nothing() {
    reshard_under_load(true).await;
}

/// Reshards 32 slots under load to another primary, or to a new one
/// (`grow`), and checks that nothing failed or was lost.
async fn reshard_under_load(grow: bool) {
    const MOVED_SLOTS: u16 = 32;
    let mut cluster = Cluster::start().await;
    let seed = cluster.nodes[0].port();
    let service = Service::start_with(&cluster.urls(), &[])
        .await
        .ready()
        .await;
    let prefix = service.prefix.clone();

    // redis-cli moves the source's lowest slots: 0..MOVED_SLOTS of the
    // primary serving slot 0. One hash tag per writer in those slots.
    let from = cluster.primary_of(seed, 0).await;
    let tags: Arc<Vec<String>> = Arc::new(
        (0..)
            .map(|i| format!("t{i}"))
            .filter(|tag| slot(tag) < MOVED_SLOTS)
            .take(8)
            .collect(),
    );
    let key_tags = Arc::clone(&tags);
    let key_of: KeyOf = Arc::new(move |w, n| format!("{{{}}}w{w}-{n}", key_tags[w]));
    let writers = Writers::start_keyed(&service.channel, 8, &key_of);
    writers.wait_for(500, Duration::from_secs(30)).await;

    let to = if grow {
        cluster.add_empty_primary().await
    } else {
        cluster.primary_of(seed, 16383).await
    };
    assert_ne!(from, to);
    let topology = cluster.topology(seed).await;
    let id_of = |port: u16| topology.iter().find(|n| n.port == port).unwrap().id.clone();
    let (from_id, to_id) = (id_of(from), id_of(to));
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("redis-cli")
            .args(["--cluster", "reshard", &format!("127.0.0.1:{seed}")])
            .args(["--cluster-from", &from_id, "--cluster-to", &to_id])
            .args(["--cluster-slots", &MOVED_SLOTS.to_string(), "--cluster-yes"])
            // Few keys per MIGRATE, so the migration takes a while.
            .args(["--cluster-pipeline", "2"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "reshard: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    for tag in tags.iter() {
        assert_eq!(
            cluster.primary_of(seed, slot(tag)).await,
            to,
            "{tag} not moved"
        );
    }
    writers.wait_for(500, Duration::from_secs(30)).await;
    let (acked, failed, tally) = writers.stop().await;

    let resends = resends(&service).await;
    let missing = missing(&cluster, &prefix, &acked).await;
    let mut on_target = 0;
    let mut target = cluster.conn(to).await;
    for (key, _) in &acked {
        let exists: bool = target.exists(format!("{prefix}:val:{key}")).await.unwrap();
        on_target += usize::from(exists);
    }
    println!(
        "reshard of {MOVED_SLOTS} slots 127.0.0.1:{from} → {}127.0.0.1:{to} in {took:?} under 8 writers: \
         {} acknowledged writes, {} on the target now, {} missing; answers {:?}; calls sent again {resends:?}",
        if grow { "the new primary " } else { "" },
        acked.len(),
        on_target,
        missing.len(),
        tally.get()
    );
    assert!(
        failed.is_empty(),
        "failed calls: {:?} {:?}",
        tally.get(),
        tally.samples()
    );
    assert!(missing.is_empty(), "{missing:?}");
    assert_eq!(on_target, acked.len());
    assert!(resends["moved"] + resends["ask"] + resends["tryagain"] > 0.0);
}

/// The service's `rmw_redis_cluster_resends_total`, by reason.
async fn resends(service: &Service) -> BTreeMap<&'static str, f64> {
    let metrics = scrape(service.metrics_addr).await;
    [
        "moved",
        "ask",
        "tryagain",
        "down",
        "readonly",
        "noscript",
        "unreachable",
    ]
    .into_iter()
    .map(|reason| {
        let series = format!("rmw_redis_cluster_resends_total{{reason=\"{reason}\"}}");
        (reason, sample(&metrics, &series).unwrap_or(0.0))
    })
    .collect()
}

/// A script call is given until the request's deadline, not a fixed
/// second: a slow reply is not "unavailable" (a caller told UNAVAILABLE
/// may think nothing was applied). Injected: the primary serving the key
/// pauses every write for 1.5 s (`CLIENT PAUSE … WRITE`) just before a
/// CompareAndSwap with a 5 s deadline. Asserted: it answers `swapped`, and
/// the value is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_primary_is_waited_for_until_the_deadline() {
    let cluster = Cluster::start().await;
    let seed = cluster.nodes[0].port();
    let service = Service::start_with(&cluster.urls(), &[])
        .await
        .ready()
        .await;
    let key = "slow";
    let primary = cluster
        .primary_of(seed, slot(&format!("{}:val:{key}", service.prefix)))
        .await;
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("WRITE")
        .query_async(&mut cluster.conn(primary).await)
        .await
        .unwrap();
    let started = Instant::now();
    let mut request = Request::new(create(key, "v"));
    request.set_timeout(Duration::from_secs(5));
    let reply = service.values().compare_and_swap(request).await;
    println!(
        "primary paused 1.5s: {:?} after {:?}",
        reply.as_ref().map(|r| r.get_ref().outcome.is_some()),
        started.elapsed()
    );
    let reply = reply.expect("answered once the pause ended");
    assert!(matches!(
        reply.into_inner().outcome,
        Some(rmw::proto::v1::compare_and_swap_response::Outcome::Swapped(
            _
        ))
    ));
}
