//! The layering docs/ARCHITECTURE.md describes, checked on the source:
//! the edge and telemetry never reach into the Redis layer, and no file of
//! `src/` grows past the size one concern needs.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Whether `text` uses the crate's Redis layer: a `crate::redis` path, or
/// `redis` in a `use crate::{…}` list.
fn uses_redis_layer(text: &str) -> bool {
    if text.contains("crate::redis") {
        return true;
    }
    text.split("use crate::{").skip(1).any(|list| {
        let list = list.split("};").next().unwrap_or("");
        list.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|word| word == "redis")
    })
}

/// No arrow from the edge (`src/grpc`) or from telemetry into `src/redis`.
#[test]
fn the_edge_and_telemetry_do_not_know_redis() {
    for layer in ["grpc", "telemetry"] {
        for file in sources(&src().join(layer)) {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                !uses_redis_layer(&text),
                "{} uses src/redis",
                file.display()
            );
        }
    }
    // The check finds what it looks for.
    assert!(uses_redis_layer("use crate::{error::Error, redis::Call};"));
    assert!(uses_redis_layer("let s = crate::redis::Script::ALL;"));
    assert!(!uses_redis_layer(
        "use crate::{error::Error};\nlet redis = 1;"
    ));
}

/// No file of `src/` is over 400 lines.
#[test]
fn no_source_file_is_over_400_lines() {
    for file in sources(&src()) {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        assert!(lines <= 400, "{}: {lines} lines", file.display());
    }
}
