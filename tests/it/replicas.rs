//! Two `ccc-sync run` processes on one database: one syncs each source, the other stands by and takes over.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{TimeDelta, Utc};

use crate::mock::{self, Key, MockCcc};
use crate::support::TestDb;

const KEY: Key = Key {
    id: "LTAI-rep",
    secret: "replica-secret",
    agent: None,
};

/// A running daemon, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
}

impl Daemon {
    /// `ccc-sync --config <config> run`, its output discarded; `port` is the config's `[server] listen`.
    pub fn spawn(config: &std::path::Path, port: u16) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_ccc-sync"))
            .args(["--config", config.to_str().expect("utf-8"), "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ccc-sync");
        Daemon { child, port }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn start_daemon(db: &TestDb, endpoint: &str, dir: &std::path::Path) -> Daemon {
    let port = free_port();
    let path = dir.join(format!("ccc-sync-{port}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"
[database]
url = "{url}"

[server]
listen = "127.0.0.1:{port}"

[[sources]]
name = "agent-1912"
instance_id = "inst-1"
endpoint = "{endpoint}"
access_key_id = "{id}"
access_key_secret = "{secret}"
start_from = "1h"
interval = "1s"
"#,
            url = db.url,
            id = KEY.id,
            secret = KEY.secret,
        ),
    )
    .expect("config");
    Daemon::spawn(&path, port)
}

pub async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// `Some(true)` when the daemon reports that it holds the source.
async fn owns(d: &Daemon) -> Option<bool> {
    let (_, body) = get(d.port, "/metrics").await?;
    body.lines()
        .find(|l| l.starts_with("ccc_sync_source_owned{source=\"agent-1912\"}"))
        .map(|l| l.ends_with(" 1"))
}

/// Polls `check` until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_syncs_the_other_stands_by_and_takes_over_when_the_first_is_killed() {
    let db = TestDb::new().await;
    let mock = MockCcc::start(vec![KEY]).await;
    let start = (Utc::now() - TimeDelta::minutes(20)).timestamp_millis();
    mock.set_records(
        (0..30)
            .map(|i| mock::record(&format!("R{i}"), start + i * 1000, &["1001@ccctest"], 1))
            .collect(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let first = start_daemon(&db, &mock.endpoint, dir.path());
    assert!(
        eventually(Duration::from_secs(30), || async {
            owns(&first).await == Some(true)
        })
        .await,
        "the first replica takes the source"
    );
    let second = start_daemon(&db, &mock.endpoint, dir.path());
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
