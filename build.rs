//! Generates the gRPC code and the descriptor set served by reflection.
//!
//! `protox` parses `proto/` in pure Rust, so building needs no system
//! `protoc`; the same descriptor set feeds codegen and reflection, so what
//! grpcurl sees is exactly what the server was compiled from.

use std::{env, fmt::Write as _, fs, io, path::PathBuf};

use prost::Message as _;

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
    fs::write(out.join("rmw_descriptor.bin"), fds.encode_to_vec())?;

    fs::write(out.join("outcomes.rs"), outcomes(&fds))?;

    tonic_prost_build::configure()
        // prost's codec, but a request that does not decode is the
        // caller's INVALID_ARGUMENT, not INTERNAL (src/grpc/codec.rs).
        .codec_path("crate::grpc::codec::Codec")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)
}

/// `Named` for every reply of the API: the business outcome a response
/// carries is the name of the field set in its `oneof outcome`; a reply
/// without one is a read. Generated, so an outcome added to the proto is
/// labelled in metrics and traces without a table to keep in step.
fn outcomes(fds: &prost_types::FileDescriptorSet) -> String {
    let mut replies: Vec<&str> = fds
        .file
        .iter()
        .flat_map(|file| &file.service)
        .flat_map(|service| &service.method)
        .filter_map(|method| method.output_type.as_deref())
        .filter_map(|name| name.strip_prefix(".rmw.v1."))
        .collect();
    replies.sort_unstable();
    replies.dedup();
    let messages: Vec<_> = fds
        .file
        .iter()
        .flat_map(|file| &file.message_type)
        .collect();
    let mut code = String::new();
    for reply in replies {
        let message = messages
            .iter()
            .find(|m| m.name() == reply)
            .expect("a method's reply is a message of rmw.v1");
        let oneof = message
            .oneof_decl
            .iter()
            .position(|o| o.name() == "outcome");
        let _ = writeln!(
            code,
            "impl Named for pb::{reply} {{\n    fn outcome(&self) -> &'static str {{"
        );
        match oneof {
            None => code.push_str("        \"read\"\n"),
            Some(index) => {
                let module = snake(reply);
                code.push_str("        match &self.outcome {\n");
                for field in message
                    .field
                    .iter()
                    .filter(|f| f.oneof_index == i32::try_from(index).ok())
                {
                    let _ = writeln!(
                        code,
                        "            Some(pb::{module}::Outcome::{}(_)) => \"{}\",",
                        camel(field.name()),
                        field.name()
                    );
                }
                code.push_str("            None => \"none\",\n        }\n");
            }
        }
        code.push_str("    }\n}\n");
    }
    code
}

/// `GetValueResponse` as prost names its module: `get_value_response`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `not_found` as prost names its variant: `NotFound`.
fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}
