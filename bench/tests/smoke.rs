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

/// Runs `rmw-bench` with `args` on a tiny load into a fresh folder, and
/// returns that folder.
fn tiny(args: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_rmw-bench"))
        .args([
            "--concurrency",
            "2",
            "--duration",
            "200ms",
            "--warmup",
            "50ms",
        ])
        .args(args)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "rmw-bench {args:?} failed\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// The multi-core and the cluster sweeps run end to end: a report row per
/// point, no errors, a chart.
#[test]
fn the_worker_and_cluster_sweeps_write_their_reports() {
    for (args, name, rows) in [
        (
            &["--workers", "1,2", "--ops", "cas"][..],
            "workers",
            ["| 1 | CompareAndSwap | 2 |", "| 2 | CompareAndSwap | 2 |"],
        ),
        (
            &["--cluster", "1,3", "--ops", "transfer"][..],
            "cluster",
            ["| 1 | Transfer | 2 |", "| 3 | Transfer | 2 |"],
        ),
    ] {
        let out = tiny(args);
        let report = std::fs::read_to_string(out.path().join(format!("{name}.md"))).unwrap();
        for row in rows {
            assert!(report.contains(row), "{name}: no {row:?}:\n{report}");
        }
        assert!(!report.contains("ERRORS"), "{report}");
        let chart = std::fs::read_to_string(out.path().join(format!("{name}.svg"))).unwrap();
        assert!(
            chart.starts_with("<svg") && chart.contains("polyline"),
            "{name}"
        );
    }
}
