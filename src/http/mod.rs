//! The API over plain HTTP and to browsers, on the gRPC port: the Connect
//! protocol (`POST /rmw.v1.<Service>/<Method>` with a JSON or protobuf
//! body), gRPC-Web, CORS, and the read-only console.
//!
//! None of it handles a call. Each protocol is turned into the gRPC
//! request the handlers already serve, and their gRPC answer back, so every
//! call passes the same deadline, span, metrics, limits and access checks
//! (`grpc::layer`) whichever protocol carried it. Outside in: CORS (when
//! origins are configured), then [`connect`], which serves Connect itself
//! and hands gRPC-Web to tonic-web, then the gRPC stack.

pub mod connect;
pub mod console;
mod cors;
pub mod json;
mod stream;
mod wire;

pub use connect::ConnectLayer;
pub use cors::cors;
pub use json::Methods;
