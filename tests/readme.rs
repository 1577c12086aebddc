//! The README's grpcurl and curl examples, run for real: against the `rmw` binary
//! started with `--dev` (its own redis-server), as `make run` does.

use std::{path::PathBuf, process::Command, time::Duration};

use tokio::time::timeout;

use crate::common;

/// One `$ command` of a ```console block and the output shown under it.
#[derive(Debug)]
struct Example {
    line: usize,
    command: String,
    output: Vec<String>,
}

/// The examples of every ```console block whose commands call grpcurl or
/// curl.
fn examples(readme: &str) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    let mut in_console = false;
    let mut continued = false;
    for (i, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            in_console = line == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if continued {
            let example = examples.last_mut().unwrap();
            example.command.push('\n');
            example.command.push_str(line);
            continued = continues(&example.command);
        } else if let Some(command) = line.strip_prefix("$ ") {
            examples.push(Example {
                line: i + 1,
                command: command.to_owned(),
                output: Vec::new(),
            });
            continued = continues(command);
        } else if let Some(example) = examples.last_mut() {
            example.output.push(line.trim_end().to_owned());
        }
    }
    examples.retain(|e| e.command.starts_with("grpcurl") || e.command.starts_with("curl"));
    for example in &mut examples {
        while example.output.last().is_some_and(String::is_empty) {
            example.output.pop();
        }
    }
    examples
}

/// Whether a command goes on in the next line: a trailing backslash, or a
/// quote left open (a multi-line JSON body).
fn continues(command: &str) -> bool {
    command.ends_with('\\') || command.matches('\'').count() % 2 == 1
}

/// Whether `actual` matches `expected`, where `…` in an expected line
/// stands for any text (timestamps, addresses).
fn matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split('…').collect();
    let mut rest = actual;
    for (i, part) in parts.iter().enumerate() {
        let found = if i == 0 {
            rest.starts_with(part).then_some(0)
        } else if i == parts.len() - 1 {
            rest.ends_with(part).then(|| rest.len() - part.len())
        } else {
            rest.find(part)
        };
        let Some(at) = found else { return false };
        rest = &rest[at + part.len()..];
    }
    parts.len() > 1 || rest.is_empty()
}

/// Where grpcurl is: PATH, or the venv `scripts/setup.sh` makes.
fn grpcurl_dir() -> PathBuf {
    let venv = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv/bin"));
    if venv.join("grpcurl").exists() {
        return venv;
    }
    let which = Command::new("sh")
        .args(["-c", "command -v grpcurl"])
        .output()
        .unwrap();
    let path = String::from_utf8(which.stdout).unwrap();
    assert!(
        which.status.success(),
        "grpcurl is not installed: `make test` (scripts/setup.sh test) installs it"
    );
    PathBuf::from(path.trim()).parent().unwrap().to_owned()
}

/// Runs every `$ grpcurl …` example of README.md, in order, against the
/// service at `addr`, and asserts each prints what the README shows.
pub fn run_examples(addr: &str) {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let examples = examples(&readme);
    assert!(
        examples.len() >= 10,
        "only {} grpcurl examples found",
        examples.len()
    );
    let path = format!(
        "{}:{}",
        grpcurl_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for example in &examples {
        let command = example.command.replace("localhost:50051", addr);
        let output = Command::new("bash")
            .args(["-c", &format!("{command} 2>&1")])
            .env("PATH", &path)
            .output()
            .unwrap();
        let actual: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| l.trim_end().to_owned())
            .collect();
        let ok = actual.len() == example.output.len()
            && example
                .output
                .iter()
                .zip(&actual)
                .all(|(e, a)| matches(e, a));
        assert!(
            ok,
            "README.md line {}: `{}`\n--- README shows ---\n{}\n--- it printed ---\n{}",
            example.line,
            example.command,
            example.output.join("\n"),
            actual.join("\n"),
        );
    }
}

/// Every `$ grpcurl …` example in README.md prints what the README shows,
/// in order, against one fresh service started as `make run` starts it
/// (so examples may build on each other); the service then stops on
/// SIGTERM with exit status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_examples_print_what_they_show() {
    let mut binary = common::Binary::spawn(&["--dev", "--console"]).await;
    let addr = binary.endpoint.uri().authority().unwrap().to_string();
    tokio::task::block_in_place(|| run_examples(&addr));

    binary.signal("TERM");
    let status = timeout(Duration::from_secs(15), binary.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

/// The matcher itself: exact lines, `…` wildcards, and mismatches.
#[test]
fn wildcard_matching() {
    assert!(matches("abc", "abc"));
    assert!(!matches("abc", "abcd"));
    assert!(matches("\"at\": \"…\"", "\"at\": \"2026-01-01T00:00:00Z\""));
    assert!(matches("a…c…e", "abcde"));
    assert!(!matches("a…c…e", "abde"));
    assert!(!matches("x…", "yx"));
}
