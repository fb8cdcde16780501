//! The database goes away under a running daemon and comes back.

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::mock::{self, Key, MockCcc};
use crate::proxy::Proxy;
use crate::replicas::{Daemon, eventually, free_port, get};
use crate::support::TestDb;

const KEY: Key = Key {
    id: "LTAI-outage",
    secret: "outage-secret",
    agent: None,
};

async fn calls(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ccc.calls")
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_logged_retried_reported_not_ready_and_caught_up_exactly() {
    let db = TestDb::new().await;
    let mock = MockCcc::start(vec![KEY]).await;
    let start = (Utc::now() - TimeDelta::minutes(30)).timestamp_millis();
    let batch = |from: i64, n: i64| {
        (from..from + n)
            .map(|i| mock::record(&format!("D{i}"), start + i * 1000, &["1001@ccctest"], 1))
            .collect::<Vec<_>>()
    };
    mock.set_records(batch(0, 20));
    let server: PgConnectOptions = db.url.parse().expect("url");
    let proxy = Proxy::start(format!("{}:{}", server.get_host(), server.get_port())).await;
    let through_proxy = server.port(proxy.port).to_url_lossy().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let path = dir.path().join("ccc-sync.toml");
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = \"{through_proxy}\"\nacquire_timeout = \"1s\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [[sources]]\nname = \"agent-1\"\ninstance_id = \"inst-1\"\nendpoint = \"{}\"\naccess_key_id = \"{}\"\n\
             access_key_secret = \"{}\"\nstart_from = \"1h\"\ninterval = \"1s\"\n",
            mock.endpoint, KEY.id, KEY.secret
        ),
    )
    .expect("config");
    let log_path = dir.path().join("daemon.log");
    let child = Command::new(env!("CARGO_BIN_EXE_ccc-sync"))
        .args([
            "--config",
            path.to_str().expect("utf-8"),
            "--log-format",
            "json",
            "run",
        ])
        .stdout(std::fs::File::create(&log_path).expect("log file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut daemon = Daemon { child, port };
    assert!(
        eventually(Duration::from_secs(30), || async { calls(&db).await == 20 }).await,
        "first sync"
    );

    proxy.cut();
    mock.set_records(batch(0, 35));
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
    let path = dir.path().join("ccc-sync.toml");
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = \"postgres://postgres@127.0.0.1:{db_port}/nowhere\"\nacquire_timeout = \"1s\"\n\n\
             [server]\nlisten = \"127.0.0.1:{port}\"\n\n[[sources]]\nname = \"s\"\ninstance_id = \"i\"\n\
             endpoint = \"http://127.0.0.1:9\"\naccess_key_id = \"a\"\naccess_key_secret = \"b\"\n"
        ),
    )
    .expect("config");
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
