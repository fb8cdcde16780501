//! Two `ccc-sync run` processes on one database: one syncs each source, the other stands by and takes over.

use std::time::Duration;

use chrono::{TimeDelta, Utc};

use ccc_simulator::AccessKey;

use crate::support::TestDb;
use crate::support::ccc;
use crate::support::config::{Config, SourceConfig};
use crate::support::daemon::{Daemon, eventually, free_port, get};

fn key() -> AccessKey {
    ccc::key("LTAI-rep", "replica-secret", None)
}

fn start_daemon(db: &TestDb, endpoint: &str, dir: &std::path::Path) -> Daemon {
    let port = free_port();
    let source = SourceConfig::new("agent-1912", ccc::INSTANCE)
        .endpoint(endpoint)
        .key(&key())
        .start_from("1h")
        .interval("1s");
    let path = Config::new(&db.url)
        .listen(port)
        .source(source)
        .write(dir, &format!("ccc-sync-{port}.toml"));
    Daemon::spawn(&path, port)
}

/// `Some(true)` when the daemon reports that it holds the source.
async fn owns(d: &Daemon) -> Option<bool> {
    let (_, body) = get(d.port, "/metrics").await?;
    body.lines()
        .find(|l| l.starts_with("ccc_sync_source_owned{source=\"agent-1912\"}"))
        .map(|l| l.ends_with(" 1"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_syncs_the_other_stands_by_and_takes_over_when_the_first_is_killed() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![key()]).await;
    let start = (Utc::now() - TimeDelta::minutes(20)).timestamp_millis();
    sim.set_records(
        (0..30)
            .map(|i| ccc::record(&format!("R{i}"), start + i * 1000, &["1001@ccctest"], 1))
            .collect(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let first = start_daemon(&db, &sim.endpoint(), dir.path());
    assert!(
        eventually(Duration::from_secs(30), || async {
            owns(&first).await == Some(true)
        })
        .await,
        "the first replica takes the source"
    );
    let second = start_daemon(&db, &sim.endpoint(), dir.path());
    assert!(
        eventually(Duration::from_secs(30), || async {
            owns(&second).await == Some(false)
        })
        .await,
        "the second replica stands by"
    );
    assert_eq!(
        get(second.port, "/readyz").await.map(|r| r.0),
        Some(200),
        "a healthy standby is ready"
    );
    assert_eq!(get(first.port, "/livez").await.map(|r| r.0), Some(200));
    assert_eq!(get(first.port, "/readyz").await.map(|r| r.0), Some(200));
    let metrics = get(first.port, "/metrics").await.expect("metrics").1;
    for name in [
        "ccc_sync_build_info",
        "ccc_sync_api_requests_total",
        "ccc_sync_runs_total",
        "ccc_sync_lag_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    let runs_by_first: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.sync_runs")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    drop(first);
    assert!(
        eventually(Duration::from_secs(10), || async {
            owns(&second).await == Some(true)
        })
        .await,
        "the standby takes over within an interval or so"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.sync_runs")
                .fetch_one(&db.pool)
                .await
                .expect("count");
            runs > runs_by_first
        })
        .await,
        "the new owner syncs"
    );
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.calls")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ccc.sync_runs WHERE status = 'failed'")
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert_eq!((calls, failed), (30, 0), "exact, and no conflict errors");
}
