//! The real binary, killed with SIGKILL at many moments of a backfill, restarted each time.

use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use ccc_simulator::{
    AccessKey, DEMO_INSTANCE_ID, DownloadFaults, RecordingArchive, SimulatorConfig, TruthView,
};
use object_store::local::LocalFileSystem;

use crate::archive::{assert_archive_matches, assert_no_row_claims_a_missing_object};
use crate::support::TestDb;
use crate::support::ccc;
use crate::support::config::{Config, SourceConfig};
use crate::support::daemon;
use crate::truth::{assert_ccc2_matches, assert_warehouse_matches};

const KILLS: usize = 25;

/// After a kill: every call stored is one the service has, and every call up to the watermark is stored.
async fn assert_watermark_not_ahead_of_data(db: &TestDb, truth: &[Value]) -> Option<DateTime<Utc>> {
    let watermark: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT watermark FROM ccc.sync_state WHERE source = 'demo'")
            .fetch_optional(&db.pool)
            .await
            .expect("state");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.calls")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    let Some(w) = watermark else {
        assert_eq!(stored, 0, "calls were stored before any watermark existed");
        return None;
    };
    let due = truth
        .iter()
        .filter(|r| {
            r["StartTime"]
                .as_i64()
                .is_some_and(|t| t <= w.timestamp_millis())
        })
        .count();
    let stored_up_to: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ccc.calls WHERE start_time <= $1")
            .bind(w)
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert_eq!(
        stored_up_to as usize, due,
        "the watermark {w} is ahead of the data"
    );
    assert!(stored as usize >= due);
    Some(w)
}

/// The next of a fixed pseudo-random sequence (xorshift).
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Waits (up to a minute) until `child` has made progress by `measure`, or has exited.
async fn until_progress<T: PartialEq, F: Future<Output = T>>(
    child: &mut std::process::Child,
    measure: impl Fn() -> F,
) {
    let before = measure().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("child status").is_none()
        && measure().await == before
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `ccc-sync once` with `config`, logging warnings only; its stdout is kept.
fn once(config: &std::path::Path) -> std::process::Child {
    quietly(config, &["once"])
}

/// `ccc-sync recordings archive` with `config`, logging warnings only; its stdout is kept.
fn archive(config: &std::path::Path) -> std::process::Child {
    quietly(config, &["recordings", "archive"])
}

/// `ccc-sync <command>` with `config`, logging warnings only; its stdout is kept.
fn quietly(config: &std::path::Path, command: &[&str]) -> std::process::Child {
    daemon::ccc_sync(config)
        .args(["--log-level", "warn"])
        .args(command)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

/// Waits for `child` to exit; what it printed.
async fn to_the_end(child: std::process::Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("output")
}

/// Runs `run` to its end until it is not skipped (a killed run's lock is released once PostgreSQL notices
/// its session is gone); each run must succeed.
async fn run_until_not_skipped(run: impl Fn() -> std::process::Child) {
    for _ in 0..20 {
        let out = to_the_end(run()).await;
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "the final run failed: {said}");
        if !said.contains("skipped") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("a dead run's lock was never released");
}

/// SIGKILLs `child` and reaps it.
async fn kill(mut child: std::process::Child) {
    child.kill().expect("SIGKILL");
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
}

/// Windows journalled as committed so far.
async fn windows_committed(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ccc.sync_runs WHERE status = 'succeeded'")
        .fetch_one(&db.pool)
        .await
        .expect("runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_killed_at_25_moments_leaves_the_warehouse_exact_and_never_ahead_of_its_watermark()
 {
    let db = TestDb::new().await;
    let at = ccc_sync::window::to_ms(Utc::now());
    let sim = ccc::simulator(SimulatorConfig {
        calls: 20_000,
        days: 4,
        anchor: at,
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(at);
    let truth = sim.truth(at, None);
    let dir = tempfile::tempdir().expect("tempdir");
    let source = SourceConfig::new("demo", DEMO_INSTANCE_ID)
        .endpoint(&sim.endpoint())
        .key(&AccessKey::demo())
        .start_from("98h")
        .chunk("2h")
        .max_requests_per_second(10_000.0);
    let config = Config::new(&db.url)
        .source(source)
        .write(dir.path(), "c.toml");
    let run = || once(&config);

    // Kill delays spread from before the first query to deep inside a window: a fixed pseudo-random sequence.
    // Every other run is first let commit one window of its own, so that the kills interleave with progress
    // however fast or loaded the machine is; the delay then lands the kill somewhere in a later window.
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut watermarks = Vec::new();
    for round in 0..KILLS {
        let delay = Duration::from_millis(20 + next(&mut seed) % 900);
        let mut child = run();
        if round % 2 == 1 {
            until_progress(&mut child, || windows_committed(&db)).await;
        }
        tokio::time::sleep(delay).await;
        kill(child).await;
        watermarks.push(assert_watermark_not_ahead_of_data(&db, &truth).await);
    }
    let advanced = watermarks.windows(2).filter(|w| w[0] != w[1]).count();
    let committed = windows_committed(&db).await;
    eprintln!(
        "{KILLS} kills; the watermark advanced between {advanced} of them; {committed} windows committed meanwhile"
    );
    assert!(
        advanced >= 3,
        "the kills should interleave with progress, not all land before it"
    );

    run_until_not_skipped(run).await;
    assert_warehouse_matches(&db.pool, &truth).await;
    let duplicated: i64 = sqlx::query_scalar(
        "SELECT count(*) - count(DISTINCT (instance_id, contact_id)) FROM ccc.calls",
    )
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!(duplicated, 0);
    sim.shutdown().await;
}

/// Calls whose details are written, and windows committed: what a run has made durable.
async fn progress(db: &TestDb) -> (i64, i64) {
    let details: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ccc.calls WHERE NOT details_pending")
            .fetch_one(&db.pool)
            .await
            .expect("details");
    (details, windows_committed(db).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ccc2_backfill_with_call_details_killed_at_12_moments_is_exact_and_repeats_no_committed_batch()
 {
    const CCC2_KILLS: u64 = 12;
    /// Calls whose details one round fetches before committing them (`scheduler::details`).
    const BATCH: u64 = 100;
    let db = TestDb::new().await;
    let at = ccc_sync::window::to_ms(Utc::now());
    let sim = ccc::simulator(SimulatorConfig {
        calls: 3_000,
        days: 2,
        anchor: at,
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(at);
    let truth = sim.truth_view(at, None, TruthView::Ccc2);
    let dir = tempfile::tempdir().expect("tempdir");
    let source = SourceConfig::new("demo", DEMO_INSTANCE_ID)
        .endpoint(&sim.endpoint())
        .key(&AccessKey::demo())
        .api("ccc2")
        .start_from("49h")
        .max_requests_per_second(10_000.0);
    let config = Config::new(&db.url)
        .source(source)
        .write(dir.path(), "c.toml");
    let run = || once(&config);

    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut moved = 0;
    for round in 0..CCC2_KILLS {
        let delay = Duration::from_millis(20 + next(&mut seed) % 600);
        let before = progress(&db).await;
        let mut child = run();
        if round % 2 == 1 {
            until_progress(&mut child, || progress(&db)).await;
        }
        tokio::time::sleep(delay).await;
        kill(child).await;
        let after = progress(&db).await;
        if after != before {
            moved += 1;
        }
        let bare: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM ccc.calls AS c WHERE NOT c.details_pending
               AND c.leg_count <> (SELECT count(*) FROM ccc.agent_legs AS l
                                   WHERE l.instance_id = c.instance_id AND l.contact_id = c.contact_id)",
        )
        .fetch_one(&db.pool)
        .await
        .expect("legs");
        assert_eq!(
            bare, 0,
            "a call marked done without its legs after kill {round}"
        );
    }
    assert!(
        moved >= 3,
        "the kills should interleave with progress: {moved}"
    );

    let mut finished = false;
    for _ in 0..20 {
        let status = to_the_end(run()).await;
        assert!(status.status.success(), "the final run failed");
        if progress(&db).await.0 == truth.len() as i64 {
            finished = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(finished, "the details were never all written");
    assert_ccc2_matches(&db.pool, &truth).await;
    let asked = sim.requests().requests_for("GetCallDetailRecord");
    let calls = truth.len() as u64;
    eprintln!("{CCC2_KILLS} kills; {asked} GetCallDetailRecord requests for {calls} calls");
    assert!(
        asked <= calls + CCC2_KILLS * BATCH,
        "at most the uncommitted batch of each killed run is asked again: {asked} for {calls} calls"
    );
    sim.shutdown().await;
}

/// Files the archive says it holds.
async fn files_archived(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ccc.recording_archive WHERE state = 'archived'")
        .fetch_one(&db.pool)
        .await
        .expect("archived")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_archive_killed_at_12_moments_is_exact_and_no_row_ever_claims_a_missing_object()
{
    let db = TestDb::new().await;
    let files_deleted = RecordingArchive {
        deleted_fraction: 0.05,
        faults: DownloadFaults {
            reset: 0.05,
            ..DownloadFaults::default()
        },
        ..RecordingArchive::default()
    };
    let (sim, at) = crate::archive::simulator(600, files_deleted).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("archive");
    let config = crate::archive::into_directory(
        Config::new(&db.url).source(crate::archive::source(&sim, "instance")),
        &target,
    )
    .write(dir.path(), "c.toml");
    let synced = to_the_end(once(&config)).await;
    assert!(synced.status.success(), "the sync failed");
    let store = LocalFileSystem::new_with_prefix(&target).expect("target");

    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut archived = Vec::new();
    for round in 0..12 {
        let delay = Duration::from_millis(5 + next(&mut seed) % 400);
        let mut child = archive(&config);
        if round % 2 == 1 {
            until_progress(&mut child, || files_archived(&db)).await;
        }
        tokio::time::sleep(delay).await;
        kill(child).await;
        archived.push(assert_no_row_claims_a_missing_object(&db, &store).await);
    }
    let advanced = archived.windows(2).filter(|w| w[0] != w[1]).count();
    eprintln!("12 kills; the archive grew between {advanced} of them: {archived:?}");
    assert!(advanced >= 3, "the kills should interleave with progress");

    run_until_not_skipped(|| archive(&config)).await;
    assert_archive_matches(&db, &sim.recording_files(at), &store).await;
    sim.shutdown().await;
}
