//! rmw: atomic read-modify-write operations on Redis, over gRPC.
//!
//! The layers, outside in: [`grpc`] validates requests into typed values
//! and converts outcomes; [`ops`] turns each operation into one Lua script
//! call and reads its reply; [`redis`] owns the connections and the
//! scripts. [`auth`] says who calls and what it may touch; [`http`] serves
//! the same calls over Connect and gRPC-Web, and the console. [`app`] wires
//! them together for the binary and the tests.

pub mod app;
pub mod auth;
pub mod config;
pub mod deadline;
pub mod dev_redis;
pub mod error;
pub mod grpc;
pub mod health;
pub mod http;
pub mod lifecycle;
pub mod ops;
pub mod proto;
pub mod redis;
pub mod telemetry;
pub mod watch;
