//! Generates the gRPC code and the descriptor set served by reflection.
//!
//! `protox` parses `proto/` in pure Rust, so building needs no system
//! `protoc`; the same descriptor set feeds codegen and reflection, so what
//! grpcurl sees is exactly what the server was compiled from.

use std::{env, fs, io, path::PathBuf};

fn main() -> io::Result<()> {
    let dir = "proto/rmw/v1";
    println!("cargo:rerun-if-changed={dir}");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    files.retain(|path| path.extension().is_some_and(|ext| ext == "proto"));
    files.sort();

    let fds = protox::compile(&files, ["proto"]).map_err(io::Error::other)?;
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(
        out.join("rmw_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;

    tonic_prost_build::configure()
        // prost's codec, but a request that does not decode is the
        // caller's INVALID_ARGUMENT, not INTERNAL (src/grpc/codec.rs).
        .codec_path("crate::grpc::codec::Codec")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)
}
