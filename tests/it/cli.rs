//! The `ccc-sync` binary as an operator runs it: exit codes, messages, and no secret in its output.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use ccc_simulator::PageFault;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use crate::support::TestDb;
use crate::support::ccc;
use crate::support::config::{Config, SourceConfig};
use crate::support::daemon::{self, printed};

const SECRET: &str = "Zq9-DISTINCTIVE-secret-77";

/// The operator's source on `endpoint`, its secret read from a file in `dir` holding `secret`.
fn source(dir: &Path, endpoint: &str, secret: &str) -> SourceConfig {
    let secret_file = dir.join("secret");
    std::fs::write(&secret_file, format!("{secret}\n")).expect("secret");
    SourceConfig::new("agent-1912", ccc::INSTANCE)
        .endpoint(endpoint)
        .access_key_id("LTAI-cli")
        .access_key_secret_file(&secret_file)
        .start_from("3h")
        .retry_for("1s")
}

/// A config file in a directory of its own with `source` syncing into `db`.
fn config(dir: &Path, db: &TestDb, source: SourceConfig) -> std::path::PathBuf {
    Config::new(&db.url)
        .source(source)
        .write(dir, "ccc-sync.toml")
}

/// `ccc-sync --config <config> <args>` at trace level, run to its end.
async fn ccc_sync(config: &Path, args: &[&str]) -> Output {
    let mut command = daemon::ccc_sync(config);
    command.args(args).env("RUST_LOG", "trace");
    daemon::output(command).await
}

#[tokio::test]
async fn once_syncs_every_source_and_exits_zero_without_printing_secrets_or_numbers() {
    let db = TestDb::new().await;
    let sim = seven_calls().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(dir.path(), &db, source(dir.path(), &sim.endpoint(), SECRET));

    let out = ccc_sync(&path, &["--log-format", "json", "once"]).await;

    let all = printed(&out);
    assert!(out.status.success(), "{all}");
    let summary = json_lines(&out.stdout)
        .into_iter()
        .find(|line| line["target"] == "ccc_sync::summary")
        .expect("a summary line");
    assert_eq!(
        (
            &summary["message"],
            &summary["source"],
            &summary["windows"],
            &summary["records"],
            &summary["calls_written"]
        ),
        (
            &json!("Pass summary"),
            &json!("agent-1912"),
            &json!(1),
            &json!(7),
            &json!(7)
        ),
        "{all}"
    );
    assert!(!all.contains(SECRET), "the secret leaked at trace level");
    assert!(
        !all.contains("013621078901") && !all.contains("02566806658"),
        "a phone number was logged"
    );
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.calls")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(calls, 7);

    let status = ccc_sync(&path, &["status"]).await;
    let shown = printed(&status);
    assert!(status.status.success(), "{shown}");
    assert!(
        shown.contains("agent-1912:") && shown.contains("last run      incremental succeeded"),
        "{shown}"
    );
}

/// Every line of `stdout`, each parsed as JSON: the test fails on the first line that is not.
fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect()
}

/// A simulator serving seven calls of the last half hour to the key `LTAI-cli` with `SECRET`.
async fn seven_calls() -> ccc_simulator::SimulatorHandle {
    let sim = ccc::scripted(vec![ccc::key("LTAI-cli", SECRET, None)]).await;
    let start = (Utc::now() - TimeDelta::minutes(30)).timestamp_millis();
    sim.set_records(
        (0..7)
            .map(|i| ccc::record(&format!("C{i}"), start + i, &["1001@ccctest"], 1))
            .collect(),
    );
    sim
}

#[tokio::test]
async fn with_json_logs_a_failing_once_prints_only_json_and_tells_its_error_once() {
    let db = TestDb::new().await;
    let sim = seven_calls().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(
        dir.path(),
        &db,
        source(dir.path(), &sim.endpoint(), "wrong-secret-123"),
    );

    let out = ccc_sync(&path, &["--log-format", "json", "once"]).await;

    let all = printed(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let lines = json_lines(&out.stdout);
    let failures: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "Command failed")
        .collect();
    assert_eq!(failures.len(), 1, "{all}");
    assert_eq!(failures[0]["level"], "ERROR", "{all}");
    assert!(
        failures[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{all}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "the error is not told twice"
    );
    assert!(!all.contains("wrong-secret-123"), "{all}");
}

#[tokio::test]
async fn with_pretty_logs_off_a_terminal_once_prints_text_without_colour_escapes() {
    let db = TestDb::new().await;
    let sim = seven_calls().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(dir.path(), &db, source(dir.path(), &sim.endpoint(), SECRET));

    let out = ccc_sync(&path, &["--log-format", "pretty", "once"]).await;

    let all = printed(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.starts_with("agent-1912: 1 window(s), 7 record(s), 7 call(s)")),
        "{all}"
    );
    assert!(all.contains(" INFO "), "trace-level logs are there: {all}");
    assert!(!all.contains("\x1b["), "{all:?}");

    let dir2 = tempfile::tempdir().expect("tempdir");
    let wrong = config(
        dir2.path(),
        &db,
        source(dir2.path(), &sim.endpoint(), "wrong-secret-123"),
    );
    let out = ccc_sync(&wrong, &["--log-format", "pretty", "once"]).await;
    let all = printed(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("ccc-sync: ").count(),
        1,
        "the error is told once, on stderr: {all}"
    );
    assert!(!all.contains("Command failed"), "and not logged too: {all}");
    assert!(!all.contains("\x1b["), "{all:?}");
}

#[tokio::test]
async fn status_and_check_keep_stdout_for_their_report_and_log_to_stderr() {
    let db = TestDb::new().await;
    let sim = seven_calls().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(dir.path(), &db, source(dir.path(), &sim.endpoint(), SECRET));

    let check = ccc_sync(&path, &["--log-format", "json", "check"]).await;

    assert!(check.status.success(), "{}", printed(&check));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.contains("verdict: ready"), "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_err()),
        "no log line in the report: {stdout}"
    );
    let logs = json_lines(&check.stderr);
    assert!(!logs.is_empty(), "trace-level logs went to stderr");
}

#[tokio::test]
async fn a_bad_config_exits_2_naming_the_key_the_value_and_the_fix() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let bad_value = source(dir.path(), "http://127.0.0.1:9", SECRET).start_from("3 parsecs");
    let path = config(dir.path(), &db, bad_value);

    let out = ccc_sync(&path, &["once"]).await;

    let all = printed(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("sources[0].start_from = \"3 parsecs\""),
        "{all}"
    );
    assert!(all.contains("Fix:"), "{all}");
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.sync_runs")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(runs, 0, "nothing was touched");
}

#[tokio::test]
async fn check_gives_a_verdict_and_the_fix_for_a_wrong_secret() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![ccc::key("LTAI-cli", SECRET, None)]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good = config(dir.path(), &db, source(dir.path(), &sim.endpoint(), SECRET));
    let out = ccc_sync(&good, &["check"]).await;
    assert!(out.status.success(), "{}", printed(&out));
    assert!(printed(&out).contains("verdict: ready"));

    let dir2 = tempfile::tempdir().expect("tempdir");
    let wrong = source(dir2.path(), &sim.endpoint(), "wrong-secret-123");
    let bad = config(dir2.path(), &db, wrong);
    let out = ccc_sync(&bad, &["check"]).await;
    let all = printed(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("SignatureDoesNotMatch") && all.contains("Fix: the AccessKey secret"),
        "{all}"
    );
    assert!(all.contains("verdict: NOT ready"), "{all}");
    assert!(!all.contains("wrong-secret-123"), "{all}");
}

#[tokio::test]
async fn check_names_why_the_database_refuses_with_the_url_redacted_and_quickly() {
    let sim = ccc::scripted(vec![ccc::key("LTAI-cli", SECRET, None)]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = daemon::free_port();
    let url = format!("postgres://writer:Db-Pw-4417@127.0.0.1:{port}/warehouse");
    let config = Config::new(&url)
        .acquire_timeout("1s")
        .source(source(dir.path(), &sim.endpoint(), SECRET))
        .write(dir.path(), "ccc-sync.toml");
    let started = std::time::Instant::now();
    let out = ccc_sync(&config, &["check"]).await;
    let all = printed(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.to_lowercase().contains("connection refused"),
        "the cause is named: {all}"
    );
    assert!(
        all.contains(&format!(
            "postgres://writer:REDACTED@127.0.0.1:{port}/warehouse"
        )),
        "{all}"
    );
    assert!(!all.contains("Db-Pw-4417"), "{all}");
    assert!(all.contains("verdict: NOT ready"), "{all}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn check_retries_a_transient_503_and_says_so_but_fails_a_wrong_secret_at_once() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![ccc::key("LTAI-cli", SECRET, None)]).await;
    sim.fail_page(PageFault {
        page: 1,
        times: 1,
        status: 503,
        body: ccc::error_body(
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        ),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let good = config(dir.path(), &db, source(dir.path(), &sim.endpoint(), SECRET));
    let out = ccc_sync(&good, &["check"]).await;
    let all = printed(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("verdict: ready"), "{all}");
    assert!(
        all.contains("retried 1×") && all.contains("ServiceUnavailable"),
        "the retry is reported: {all}"
    );

    let dir2 = tempfile::tempdir().expect("tempdir");
    let wrong = source(dir2.path(), &sim.endpoint(), "wrong-secret-456");
    let bad = config(dir2.path(), &db, wrong);
    let out = ccc_sync(&bad, &["check"]).await;
    let all = printed(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("SignatureDoesNotMatch"), "{all}");
    assert!(
        !all.contains("retried"),
        "a bad signature is not retried: {all}"
    );
    assert!(all.contains("verdict: NOT ready"), "{all}");
}
