//! The `ccc-sync` binary as an operator runs it: exit codes, messages, and no secret in its output.

use std::process::Output;

use chrono::{TimeDelta, Utc};

use crate::mock::{self, Key, MockCcc};
use crate::support::TestDb;

const SECRET: &str = "Zq9-DISTINCTIVE-secret-77";
const KEY: Key = Key {
    id: "LTAI-cli",
    secret: SECRET,
    agent: None,
};

fn config(db: &TestDb, endpoint: &str, secret: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("secret"), format!("{secret}\n")).expect("secret");
    let text = format!(
        r#"
[database]
url = "{url}"

[[sources]]
name = "agent-1912"
instance_id = "inst-1"
endpoint = "{endpoint}"
access_key_id = "LTAI-cli"
access_key_secret_file = "{secret_file}"
start_from = "3h"
retry_for = "1s"
"#,
        url = db.url,
        secret_file = dir.path().join("secret").display(),
    );
    let path = dir.path().join("ccc-sync.toml");
    std::fs::write(&path, text).expect("config");
    (dir, path)
}

/// Runs the binary off the test's runtime thread, so the mock server keeps answering meanwhile.
async fn ccc_sync(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ccc-sync"))
            .args(&args)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "trace")
            .output()
            .expect("run ccc-sync")
    })
    .await
    .expect("join")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn once_syncs_every_source_and_exits_zero_without_printing_secrets_or_numbers() {
    let db = TestDb::new().await;
    let mock = MockCcc::start(vec![KEY]).await;
    let start = (Utc::now() - TimeDelta::minutes(30)).timestamp_millis();
    mock.set_records(
        (0..7)
            .map(|i| mock::record(&format!("C{i}"), start + i, &["1001@ccctest"], 1))
            .collect(),
    );
    let (_dir, path) = config(&db, &mock.endpoint, SECRET);

    let out = ccc_sync(&[
        "--config",
        path.to_str().expect("utf-8"),
        "--log-format",
        "json",
        "once",
    ])
    .await;

    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("agent-1912: 1 window(s), 7 record(s), 7 call(s)"),
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

    let status = ccc_sync(&["--config", path.to_str().expect("utf-8"), "status"]).await;
    let shown = text(&status);
    assert!(status.status.success(), "{shown}");
    assert!(
        shown.contains("agent-1912:") && shown.contains("last run      incremental succeeded"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_bad_config_exits_2_naming_the_key_the_value_and_the_fix() {
    let db = TestDb::new().await;
    let (_dir, path) = config(&db, "http://127.0.0.1:9", SECRET);
    let text_with_bad_value = std::fs::read_to_string(&path)
        .expect("read")
        .replace("start_from = \"3h\"", "start_from = \"3 parsecs\"");
    std::fs::write(&path, text_with_bad_value).expect("write");

    let out = ccc_sync(&["--config", path.to_str().expect("utf-8"), "once"]).await;

    let all = text(&out);
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
    let mock = MockCcc::start(vec![KEY]).await;
    let (_dir, good) = config(&db, &mock.endpoint, SECRET);
    let out = ccc_sync(&["--config", good.to_str().expect("utf-8"), "check"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("verdict: ready"));

    let (_dir2, bad) = config(&db, &mock.endpoint, "wrong-secret-123");
    let out = ccc_sync(&["--config", bad.to_str().expect("utf-8"), "check"]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("SignatureDoesNotMatch") && all.contains("Fix: the AccessKey secret"),
        "{all}"
    );
    assert!(all.contains("verdict: NOT ready"), "{all}");
    assert!(!all.contains("wrong-secret-123"), "{all}");
}
