//! Integration tests, each against a private redis-server started by the
//! harness (`testkit/`, here `common`). Redis is never mocked.

// Test code indexes small vectors with small counters and spells requests
// out in full; these pedantic lints add nothing there.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::too_many_lines,
    clippy::similar_names
)]

// The one harness, shared with the benchmark (testkit/).
use rmw_testkit as common;

mod access;
mod architecture;
mod cluster;
mod concurrency;
mod conditional_update;
mod counters;
mod deadlines;
mod faults;
mod fuzz;
mod hardening;
mod health;
mod holds;
mod http;
mod idempotency;
mod inventory;
mod leases;
mod ledger;
mod linearizability;
mod lost_replies;
mod memory;
mod observability;
mod pending;
mod readme;
mod records;
mod redis_limits;
mod reflection;
mod retention;
mod scripts;
mod security;
mod sequences;
mod shutdown;
mod values;
mod watch;
