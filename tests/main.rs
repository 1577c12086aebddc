//! Integration tests, each against a private redis-server started by the
//! harness in `common/`. Redis is never mocked.

mod common;

mod concurrency;
mod conditional_update;
mod counters;
mod deadlines;
mod health;
mod idempotency;
mod inventory;
mod ledger;
mod observability;
mod readme;
mod records;
mod reflection;
mod scripts;
mod security;
mod sequences;
mod shutdown;
mod values;
