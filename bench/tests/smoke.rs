//! The load generator runs end to end on a tiny load: it starts Redis and
//! the service, drives both operations, runs redis-benchmark, and writes
//! its report and chart. (Its figures are for `make bench`, not for tests.)

use std::process::Command;

#[test]
fn a_tiny_run_writes_a_report_and_a_chart() {
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_rmw-bench"))
        .args([
            "--concurrency",
            "2",
            "--duration",
            "300ms",
            "--warmup",
            "100ms",
        ])
        .args(["--repeats", "1", "--python", "/nonexistent"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "rmw-bench failed (it needs the rmw binary beside it: `cargo build --workspace`)\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    for part in [
        "| CompareAndSwap | 2 |",
        "| Transfer | 2 |",
        "half the best rate",
        "peak service RSS",
    ] {
        assert!(report.contains(part), "report lacks {part:?}:\n{report}");
    }
    assert!(!report.contains("ERRORS"), "{report}");
    let chart = std::fs::read_to_string(out.path().join("sweep.svg")).unwrap();
    assert!(chart.starts_with("<svg") && chart.contains("polyline"));
}
