//! The database goes away under a running daemon and comes back.

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::proxy::Proxy;
use crate::support::TestDb;
use crate::support::ccc;
use crate::support::config::{Config, SourceConfig};
use crate::support::daemon::{self, Daemon, eventually, free_port, get};

async fn calls(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ccc.calls")
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_logged_retried_reported_not_ready_and_caught_up_exactly() {
    let db = TestDb::new().await;
    let key = ccc::key("LTAI-outage", "outage-secret", None);
    let sim = ccc::scripted(vec![key.clone()]).await;
    let start = (Utc::now() - TimeDelta::minutes(30)).timestamp_millis();
    let batch = |from: i64, n: i64| {
        (from..from + n)
            .map(|i| ccc::record(&format!("D{i}"), start + i * 1000, &["1001@ccctest"], 1))
            .collect::<Vec<_>>()
    };
    sim.set_records(batch(0, 20));
    let server: PgConnectOptions = db.url.parse().expect("url");
    let proxy = Proxy::start(format!("{}:{}", server.get_host(), server.get_port())).await;
    let through_proxy = server.port(proxy.port).to_url_lossy().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let source = SourceConfig::new("agent-1", ccc::INSTANCE)
        .endpoint(&sim.endpoint())
        .key(&key)
        .start_from("1h")
        .interval("1s");
    let path = Config::new(&through_proxy)
        .acquire_timeout("1s")
        .listen(port)
        .source(source)
        .write(dir.path(), "ccc-sync.toml");
    let log_path = dir.path().join("daemon.log");
    let mut command = daemon::ccc_sync(&path);
    command
        .args(["--log-format", "json", "run"])
        .stdout(std::fs::File::create(&log_path).expect("log file"))
        .stderr(Stdio::null());
    let mut daemon = Daemon::start(command, port);
    assert!(
        eventually(Duration::from_secs(30), || async { calls(&db).await == 20 }).await,
        "first sync"
    );

    proxy.cut();
    sim.set_records(batch(0, 35));
    let logged = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(30), || async {
            logged()
                .lines()
                .any(|l| l.contains("\"level\":\"ERROR\"") && l.contains("will try again"))
        })
        .await,
        "the outage is logged and retried:\n{}",
        logged()
    );
    assert!(
        eventually(Duration::from_secs(30), || async {
            get(port, "/readyz").await.is_some_and(|r| r.0 == 503)
        })
        .await,
        "not ready while the database is gone"
    );
    assert_eq!(
        get(port, "/livez").await.map(|r| r.0),
        Some(200),
        "but alive"
    );
    assert!(
        daemon.child.try_wait().expect("wait").is_none(),
        "run mode does not exit"
    );

    proxy.restore();
    let caught_up = eventually(Duration::from_secs(60), || async { calls(&db).await == 35 }).await;
    let log = logged();
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    assert!(
        caught_up,
        "not caught up; the daemon's last lines:\n{}",
        tail.join("\n")
    );
    assert!(
        eventually(Duration::from_secs(30), || async {
            get(port, "/readyz").await.is_some_and(|r| r.0 == 200)
        })
        .await,
        "ready again"
    );
    let duplicated: i64 =
        sqlx::query_scalar("SELECT count(*) - count(DISTINCT contact_id) FROM ccc.calls")
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert_eq!(duplicated, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_waiting_for_its_database_is_alive_not_ready_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db_port, port) = (free_port(), free_port());
    let source = SourceConfig::new("s", "i")
        .endpoint("http://127.0.0.1:9")
        .access_key_id("a")
        .access_key_secret("b");
    let path = Config::new(&format!("postgres://postgres@127.0.0.1:{db_port}/nowhere"))
        .acquire_timeout("1s")
        .listen(port)
        .source(source)
        .write(dir.path(), "ccc-sync.toml");
    let mut daemon = Daemon::spawn(&path, port);
    assert!(
        eventually(Duration::from_secs(20), || async {
            get(port, "/livez").await.is_some_and(|r| r.0 == 200)
        })
        .await
    );
    let (status, why) = get(port, "/readyz").await.expect("readyz");
    assert_eq!(status, 503);
    assert!(
        why.contains("database") && why.contains("migrations"),
        "{why}"
    );
    assert!(
        why.to_lowercase().contains("connection refused"),
        "the cause is named: {why}"
    );

    let pid = daemon.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let exit = tokio::task::spawn_blocking(move || daemon.child.wait().expect("wait"))
        .await
        .expect("join");
    assert_eq!(exit.code(), Some(0), "a requested stop is not a failure");
}
