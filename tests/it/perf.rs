//! The bench's machinery on a small run: its counts must match the simulator's truth exactly. Timings are
//! printed by `ccc-sync bench`, never asserted.

use std::process::Command;

use serde_json::Value;

use crate::support::server_url;

#[test]
fn the_bench_accounts_for_every_call_leg_and_recording_of_the_simulator() {
    // Arrange
    let mut bench = Command::new(env!("CARGO_BIN_EXE_ccc-sync"));
    bench
        .args(["bench", "--calls", "2000", "--days", "2", "--json"])
        .args(["--database-url", &server_url()])
        .env_remove("RUST_LOG");

    // Act
    let out = bench.output().expect("the bench starts");

    // Assert
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the bench failed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON report on stdout");
    let rows = |key: &str| -> (u64, u64, u64) {
        let r = &report[key];
        let n = |f: &str| {
            r[f].as_u64()
                .unwrap_or_else(|| panic!("{key}.{f} in {report}"))
        };
        (n("calls"), n("legs"), n("recordings"))
    };
    let truth = rows("truth");
    assert!(truth.0 > 1_900, "{report}");
    assert!(truth.1 > 0 && truth.2 > 0, "{report}");
    assert_eq!(rows("synced"), truth, "{report}");
    assert_eq!(rows("copied"), truth, "{report}");
    let total = truth.0 + truth.1 + truth.2;
    assert_eq!(report["plain_copy"]["rows"], total, "{report}");
    assert_eq!(report["raw_copy"]["rows"], total, "{report}");
    assert_eq!(report["resync_rows_written"], 0, "{report}");
    assert_eq!(report["backfill"]["calls"], truth.0, "{report}");
    assert_eq!(report["serving"]["calls"], truth.0, "{report}");
    assert_eq!(report["idle"]["requests"], 1, "{report}");
}
