//! The gRPC edge: validate requests into typed values, call the operation,
//! convert its outcome. Nothing here knows Redis.

mod admin;
pub mod codec;
mod counters;
pub mod health;
mod inventory;
pub mod layer;
mod ledger;
mod outcome;
mod records;
mod sequences;
mod values;

use std::time::{Duration, SystemTime};

use tonic::{Request, server::NamedService, service::RoutesBuilder};

pub use admin::Admin;
pub use counters::Counters;
pub use inventory::Inventory;
pub use ledger::Ledger;
pub use outcome::Outcome;
use outcome::reply;
pub use records::Records;
pub use sequences::Sequences;
pub use values::Values;

use crate::{
    deadline::Deadline,
    error::Fields,
    ops::{Context, types::Id},
    proto::{
        self,
        v1::{
            admin_service_server::AdminServiceServer,
            counters_service_server::CountersServiceServer,
            inventory_service_server::InventoryServiceServer,
            ledger_service_server::LedgerServiceServer,
            records_service_server::RecordsServiceServer,
            sequences_service_server::SequencesServiceServer,
            values_service_server::ValuesServiceServer,
        },
    },
    redis::Redis,
};

/// Adds every served `rmw.v1` service over `cx` to `routes`, each
/// refusing requests over `max_message_bytes`; returns their full names,
/// for health and reflection.
pub fn add_api(
    routes: &mut RoutesBuilder,
    cx: &Context,
    redis: &Redis,
    max_message_bytes: usize,
) -> Vec<&'static str> {
    let limit = max_message_bytes;
    routes
        .add_service(
            ValuesServiceServer::new(Values::new(cx.clone())).max_decoding_message_size(limit),
        )
        .add_service(
            RecordsServiceServer::new(Records::new(cx.clone())).max_decoding_message_size(limit),
        )
        .add_service(
            InventoryServiceServer::new(Inventory::new(cx.clone()))
                .max_decoding_message_size(limit),
        )
        .add_service(
            CountersServiceServer::new(Counters::new(cx.clone())).max_decoding_message_size(limit),
        )
        .add_service(
            LedgerServiceServer::new(Ledger::new(cx.clone())).max_decoding_message_size(limit),
        )
        .add_service(
            SequencesServiceServer::new(Sequences::new(cx.clone()))
                .max_decoding_message_size(limit),
        )
        .add_service(
            AdminServiceServer::new(Admin::new(redis.clone())).max_decoding_message_size(limit),
        );
    vec![
        ValuesServiceServer::<Values>::NAME,
        RecordsServiceServer::<Records>::NAME,
        InventoryServiceServer::<Inventory>::NAME,
        CountersServiceServer::<Counters>::NAME,
        LedgerServiceServer::<Ledger>::NAME,
        SequencesServiceServer::<Sequences>::NAME,
        AdminServiceServer::<Admin>::NAME,
    ]
}

/// Adds server reflection (`v1`, and `v1alpha`, which grpcurl 1.8 asks for)
/// advertising `services` only, with google.rpc's descriptors so that tools
/// can print error details.
pub fn add_reflection(
    routes: &mut RoutesBuilder,
    services: &[&'static str],
) -> Result<(), tonic_reflection::server::Error> {
    let builder = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET);
        for service in services {
            builder = builder.with_service_name(*service);
        }
        builder
    };
    routes
        .add_service(builder().build_v1()?)
        .add_service(builder().build_v1alpha()?);
    Ok(())
}

/// The deadline [`layer::RpcLayer`] put on the request; a request that did
/// not pass through it (a handler called directly) gets five seconds.
fn deadline_of<T>(request: &Request<T>) -> Deadline {
    request
        .extensions()
        .get::<Deadline>()
        .copied()
        .unwrap_or_else(|| Deadline::after(Duration::from_secs(5)))
}

/// A time as a protobuf timestamp.
fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    time.into()
}

/// Validates a list of 1 to `max` ids, each violation at `field[i]`.
fn ids(f: &mut Fields, field: &str, texts: &[String], max: usize) -> Option<Vec<Id>> {
    if texts.is_empty() || texts.len() > max {
        f.violate(field, format!("must hold 1 to {max} ids"));
        return None;
    }
    let checked: Vec<Option<Id>> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| f.take(format_args!("{field}[{i}]"), Id::parse(text)))
        .collect();
    checked.into_iter().collect()
}
