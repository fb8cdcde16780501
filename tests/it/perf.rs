//! The bench's machinery on a small run: its counts must match the simulator's truth exactly. Timings are
//! printed by `ccc-sync bench`, never asserted.

use ccc_sync::bench::{self, BenchArgs};
use tokio_util::sync::CancellationToken;

use crate::support::server_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_accounts_for_every_call_leg_and_recording_of_the_simulator() {
    // Arrange
    let args = BenchArgs {
        database_url: server_url(),
        calls: 2_000,
        days: 2,
    };
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_ccc-sync"));

    // Act
    let report = bench::run(&args, exe, &CancellationToken::new())
        .await
        .expect("the bench runs");

    // Assert
    assert!(report.truth.calls > 1_900, "{report}");
    assert!(
        report.truth.legs > 0 && report.truth.recordings > 0,
        "{report}"
    );
    assert_eq!(report.synced, report.truth, "{report}");
    assert_eq!(report.copied, report.truth, "{report}");
    assert_eq!(report.resync_rows_written, 0, "{report}");
    assert_eq!(report.backfill.calls, report.truth.calls);
    assert_eq!(report.serving.calls, report.truth.calls, "{report}");
    assert_eq!(report.idle.requests, 1, "{report}");
    assert!(report.accounting_is_exact());
}
