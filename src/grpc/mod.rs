//! The gRPC edge: validate requests into typed values, call the operation,
//! convert its outcome. Nothing here knows Redis.

mod admin;
pub mod codec;
mod counters;
mod fields;
mod inventory;
pub mod layer;
mod leases;
mod ledger;
mod outcome;
mod records;
mod sequences;
pub mod status;
mod values;
mod watch;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use tonic::{Request, Response, Status, server::NamedService, service::RoutesBuilder};

pub use admin::Admin;
pub use fields::{Fields, MAX_VIOLATIONS};
pub use outcome::Outcome;
use outcome::{Named, reply};

use crate::{
    auth::{self, Caller, Guarded},
    deadline::Deadline,
    error::Error,
    ops::{Context, Execute, Limits, Replied, caller, types::Id},
    proto::{
        self,
        v1::{
            admin_service_server::AdminServiceServer,
            counters_service_server::CountersServiceServer,
            inventory_service_server::InventoryServiceServer,
            leases_service_server::LeasesServiceServer, ledger_service_server::LedgerServiceServer,
            records_service_server::RecordsServiceServer,
            sequences_service_server::SequencesServiceServer,
            values_service_server::ValuesServiceServer,
        },
    },
    watch::Watches,
};

/// The handlers of every data service: each validates its request into an
/// operation, runs it, and converts what it did ([`Rpc`]).
#[derive(Clone)]
pub struct Api {
    cx: Context,
    watches: Watches,
}

/// A request message of the API: the operation it asks for and how what
/// that did reads as the reply. One impl per RPC, next to its service.
pub trait Rpc: Sized + Send + 'static {
    /// The typed request.
    type Op: Execute + Guarded + Send;
    /// The reply message.
    type Reply: Named + Send + 'static;

    /// Validates the message into its operation, every bad field at once.
    fn parse(self, limits: &Limits) -> Result<Self::Op, Error>;

    /// The reply to what the operation did.
    fn reply(replied: Replied<<Self::Op as Execute>::Outcome>) -> Self::Reply;
}

/// Implements a service on [`Api`]: every method is [`Api::serve`] of its
/// request, whose [`Rpc`] impl says the rest; every streaming method (a
/// watch) is [`Api::watch`] of its request, whose [`watch::Watch`] impl
/// does.
macro_rules! serve {
    ($service:path { $($method:ident($request:ident);)* }
     $(streams { $($smethod:ident($srequest:ident) -> $stype:ident;)* })?) => {
        #[tonic::async_trait]
        impl $service for $crate::grpc::Api {
            $(
                async fn $method(
                    &self,
                    request: tonic::Request<$crate::proto::v1::$request>,
                ) -> Result<
                    tonic::Response<<$crate::proto::v1::$request as $crate::grpc::Rpc>::Reply>,
                    tonic::Status,
                > {
                    self.serve(request).await
                }
            )*
            $($(
                type $stype = $crate::grpc::watch::EventStream<
                    <$crate::proto::v1::$srequest as $crate::grpc::watch::Watch>::Reply,
                >;

                async fn $smethod(
                    &self,
                    request: tonic::Request<$crate::proto::v1::$srequest>,
                ) -> Result<tonic::Response<Self::$stype>, tonic::Status> {
                    self.watch(request).await
                }
            )*)?
        }
    };
}
use serve;

impl Api {
    /// Handlers over `cx`, their watches `watches`.
    #[must_use]
    pub fn new(cx: Context, watches: Watches) -> Self {
        Self { cx, watches }
    }

    /// Every RPC's one path: its deadline, its parse, what the caller may
    /// touch, its run, its reply.
    async fn serve<R: Rpc>(&self, request: Request<R>) -> Result<Response<R::Reply>, Status> {
        let deadline = deadline_of(&request);
        let (_, extensions, message) = request.into_parts();
        let mut op = message.parse(&self.cx.limits)?;
        let caller = extensions.get::<Caller>();
        auth::admit(caller, &mut op)?;
        let principal = caller.map(|caller| Arc::clone(&caller.principal));
        let replied = caller::as_caller(principal, op.execute(&self.cx, deadline)).await?;
        Ok(reply(R::reply(replied)))
    }
}

/// Adds every served `rmw.v1` service over `cx` to `routes`, each
/// refusing requests over `max_message_bytes`; returns their full names,
/// for health and reflection.
pub fn add_api(
    routes: &mut RoutesBuilder,
    cx: &Context,
    watches: &Watches,
    max_message_bytes: usize,
) -> Vec<&'static str> {
    let limit = max_message_bytes;
    let api = Api::new(cx.clone(), watches.clone());
    routes
        .add_service(ValuesServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(RecordsServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(InventoryServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(CountersServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(LedgerServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(SequencesServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(LeasesServiceServer::new(api).max_decoding_message_size(limit));
    vec![
        ValuesServiceServer::<Api>::NAME,
        RecordsServiceServer::<Api>::NAME,
        InventoryServiceServer::<Api>::NAME,
        CountersServiceServer::<Api>::NAME,
        LedgerServiceServer::<Api>::NAME,
        SequencesServiceServer::<Api>::NAME,
        LeasesServiceServer::<Api>::NAME,
        AdminServiceServer::<Admin>::NAME,
    ]
}

/// Adds AdminService (named by [`add_api`] already), once the health it
/// reports exists.
pub fn add_admin(routes: &mut RoutesBuilder, admin: Admin, max_message_bytes: usize) {
    routes.add_service(AdminServiceServer::new(admin).max_decoding_message_size(max_message_bytes));
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

/// A hold's ttl: whole milliseconds, 1 ms to `--max-hold-ttl`.
fn hold_ttl(
    ttl: Option<&prost_types::Duration>,
    limits: &crate::ops::Limits,
) -> Result<std::time::Duration, String> {
    ttl_within(ttl, limits.max_hold_ttl, "--max-hold-ttl")
}

/// A lease grant's ttl: whole milliseconds, 1 ms to `--max-lease-ttl`.
fn lease_ttl(
    ttl: Option<&prost_types::Duration>,
    limits: &crate::ops::Limits,
) -> Result<std::time::Duration, String> {
    ttl_within(ttl, limits.max_lease_ttl, "--max-lease-ttl")
}

/// A ttl: set, whole milliseconds, 1 ms to `max` (the flag `flag`).
fn ttl_within(
    ttl: Option<&prost_types::Duration>,
    max: std::time::Duration,
    flag: &str,
) -> Result<std::time::Duration, String> {
    let Some(ttl) = ttl else {
        return Err("must be set".into());
    };
    let whole_ms = ttl.nanos % 1_000_000 == 0;
    let (Ok(seconds), Ok(nanos)) = (u64::try_from(ttl.seconds), u32::try_from(ttl.nanos)) else {
        return Err(format!(
            "must be from 1ms to {}",
            humantime::format_duration(max)
        ));
    };
    let ttl = std::time::Duration::new(seconds, nanos);
    if ttl < std::time::Duration::from_millis(1) || ttl > max {
        return Err(format!(
            "must be from 1ms to {} ({flag})",
            humantime::format_duration(max)
        ));
    }
    if !whole_ms {
        return Err("must be whole milliseconds".into());
    }
    Ok(ttl)
}

/// A time as a protobuf timestamp.
fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    time.into()
}

/// Validates one field alone.
fn one<T>(field: &str, result: Result<T, String>) -> Result<T, Error> {
    result.map_err(|description| Error::invalid(field, description))
}

/// Validates a list of 1 to `max` ids, each violation at `field[i]`.
fn ids<K>(f: &mut Fields, field: &str, texts: &[String], max: usize) -> Option<Vec<Id<K>>> {
    if texts.is_empty() || texts.len() > max {
        f.violate(field, format!("must hold 1 to {max} ids"));
        return None;
    }
    let checked: Vec<Option<Id<K>>> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| f.take(format_args!("{field}[{i}]"), Id::parse(text)))
        .collect();
    checked.into_iter().collect()
}
