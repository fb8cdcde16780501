//! `/metrics` and `/readyz` of a real `ccc-sync run`: every family is described, the lag is exposed from
//! start-up, and readiness waits for the credentials to work, on a standby too.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::support::TestDb;
use crate::support::ccc;
use crate::support::config::{Config, SourceConfig};
use crate::support::daemon::{Daemon, eventually, free_port, get};

const KEY_ID: &str = "LTAI-metrics";
const SECRET: &str = "metrics-secret";

/// A daemon syncing `sources` (name, secret) of the scripted instance from `endpoint`, `start_from = "1h"`.
fn daemon(db: &TestDb, endpoint: &str, dir: &std::path::Path, sources: &[(&str, &str)]) -> Daemon {
    let port = free_port();
    let config = sources.iter().fold(
        Config::new(&db.url).listen(port),
        |config, (name, secret)| {
            config.source(
                SourceConfig::new(name, ccc::INSTANCE)
                    .endpoint(endpoint)
                    .access_key_id(KEY_ID)
                    .access_key_secret(secret)
                    .start_from("1h")
                    .interval("1s"),
            )
        },
    );
    Daemon::spawn(&config.write(dir, &format!("ccc-sync-{port}.toml")), port)
}

/// The value of the sample `name{source="<source>"}`, if exposed.
fn sample(metrics: &str, name: &str, source: &str) -> Option<f64> {
    let prefix = format!("{name}{{source=\"{source}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().expect("a number"))
}

/// Scrapes until `ready` holds of the text (or 30 s pass) and returns the last scrape.
pub async fn scrape_until(port: u16, ready: impl Fn(&str) -> bool) -> String {
    let mut metrics = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        metrics = get(port, "/metrics").await.map(|r| r.1).unwrap_or_default();
        if ready(&metrics) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    metrics
}

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_family_the_daemon_exposes_has_a_help_line() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![ccc::key(KEY_ID, SECRET, None)]).await;
    let start = (Utc::now() - TimeDelta::minutes(20)).timestamp_millis();
    sim.set_records(
        (0..5)
            .map(|i| ccc::record(&format!("R{i}"), start + i * 1000, &["1001@ccctest"], 1))
            .collect(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let d = daemon(&db, &sim.endpoint(), dir.path(), &[("agent-1912", SECRET)]);

    // The pass's success is exposed after its last window's commit.
    let metrics = scrape_until(d.port, |m| {
        m.contains("ccc_sync_window_duration_seconds_bucket")
            && m.contains("ccc_sync_last_success_timestamp_seconds{")
    })
    .await;
    assert!(
        metrics.contains("ccc_sync_window_duration_seconds_bucket"),
        "a window was committed:\n{metrics}"
    );

    let typed: Vec<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    for family in [
        "ccc_sync_build_info",
        "ccc_sync_api_requests_total",
        "ccc_sync_api_request_duration_seconds",
        "ccc_sync_records_fetched_total",
        "ccc_sync_rows_written_total",
        "ccc_sync_runs_total",
        "ccc_sync_window_duration_seconds",
        "ccc_sync_watermark_timestamp_seconds",
        "ccc_sync_last_success_timestamp_seconds",
        "ccc_sync_lag_seconds",
        "ccc_sync_source_owned",
    ] {
        assert!(typed.contains(&family), "{family} is exposed:\n{metrics}");
    }
    for family in &typed {
        let help = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# HELP {family} ")));
        assert!(
            help.is_some_and(|h| h.len() > 10),
            "{family} has a help text:\n{metrics}"
        );
    }
    for line in metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert!(
            typed.iter().any(|f| line.starts_with(f)),
            "every sample belongs to a described family: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_wrong_secret_the_lag_and_watermark_are_exposed_from_the_stored_state_and_start_from()
 {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![ccc::key(KEY_ID, SECRET, None)]).await;
    let stored = DateTime::from_timestamp(Utc::now().timestamp() - 7_200, 0).expect("time");
    sqlx::query(
        "INSERT INTO ccc.sync_state (source, instance_id, watermark, last_success_at) VALUES ('stored', 'inst-1', $1, $1)",
    )
    .bind(stored)
    .execute(&db.pool)
    .await
    .expect("stored state");
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Utc::now();
    let d = daemon(
        &db,
        &sim.endpoint(),
        dir.path(),
        &[("stored", "not-the-secret"), ("fresh", "not-the-secret")],
    );

    let metrics = scrape_until(d.port, |m| {
        sample(m, "ccc_sync_lag_seconds", "fresh").is_some() && m.contains("ccc_sync_runs_total")
    })
    .await;
    assert!(
        sample(&metrics, "ccc_sync_lag_seconds", "fresh").is_some(),
        "lag series:\n{metrics}"
    );
    assert!(
        metrics.contains("status=\"failed\""),
        "passes were tried and failed:\n{metrics}"
    );

    assert!(
        !metrics.contains("status=\"succeeded\""),
        "no pass succeeded:\n{metrics}"
    );
    assert_eq!(
        sample(&metrics, "ccc_sync_watermark_timestamp_seconds", "stored"),
        Some(epoch(stored))
    );
    assert_eq!(
        sample(
            &metrics,
            "ccc_sync_last_success_timestamp_seconds",
            "stored"
        ),
        Some(epoch(stored))
    );
    let lag = sample(&metrics, "ccc_sync_lag_seconds", "stored").expect("stored lag");
    assert!(
        (7_200.0..7_300.0).contains(&lag),
        "lag of the stored watermark: {lag}"
    );
    let fresh = sample(&metrics, "ccc_sync_watermark_timestamp_seconds", "fresh").expect("fresh");
    let start_from = epoch(started - TimeDelta::hours(1));
    assert!(
        (start_from - 1.0..start_from + 60.0).contains(&fresh),
        "a new source's watermark is its start_from: {fresh} vs {start_from}"
    );
    let lag = sample(&metrics, "ccc_sync_lag_seconds", "fresh").expect("fresh lag");
    assert!(
        (3_599.0..3_700.0).contains(&lag),
        "lag of a new source: {lag}"
    );

    let (status, body) = get(d.port, "/readyz").await.expect("readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("source stored") && body.contains("credentials"),
        "{body}"
    );
    assert!(!body.contains("not-the-secret"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_with_a_wrong_secret_is_not_ready_while_one_with_the_right_secret_is() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![ccc::key(KEY_ID, SECRET, None)]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let owner = daemon(&db, &sim.endpoint(), dir.path(), &[("agent-1912", SECRET)]);
    let owns = |port: u16| async move {
        let (_, body) = get(port, "/metrics").await?;
        body.lines()
            .find(|l| l.starts_with("ccc_sync_source_owned{source=\"agent-1912\"}"))
            .map(|l| l.ends_with(" 1"))
    };
    assert!(
        eventually(Duration::from_secs(30), || async {
            owns(owner.port).await == Some(true)
        })
        .await,
        "the first replica holds the source"
    );
    let wrong = daemon(
        &db,
        &sim.endpoint(),
        dir.path(),
        &[("agent-1912", "not-the-secret")],
    );
    let right = daemon(&db, &sim.endpoint(), dir.path(), &[("agent-1912", SECRET)]);

    for standby in [&wrong, &right] {
        assert!(
            eventually(Duration::from_secs(30), || async {
                owns(standby.port).await == Some(false)
            })
            .await,
            "stands by"
        );
    }

    let (status, body) = get(wrong.port, "/readyz").await.expect("readyz");
    assert_eq!(status, 503, "a standby whose secret is wrong: {body}");
    assert!(body.contains("credentials"), "{body}");
    assert_eq!(
        get(right.port, "/readyz").await.map(|r| r.0),
        Some(200),
        "a standby whose credentials worked"
    );
    assert_eq!(get(owner.port, "/readyz").await.map(|r| r.0), Some(200));
}
