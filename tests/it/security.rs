//! Secrets never leak, least-privilege roles suffice, and TLS to PostgreSQL is verified.

use std::process::Output;

use chrono::{TimeDelta, Utc};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use ccc_signature::percent_encode;
use ccc_simulator::{self as simulator, AccessKey, PageFault, SimulatorConfig, SimulatorHandle};

use crate::support::TestDb;
use crate::support::ccc;
use crate::support::config::{Config, SourceConfig};
use crate::support::daemon::{self, printed};

const SECRET: &str = "Zx81-UNMISTAKABLE-s3cret";
const DB_PASSWORD: &str = "Pw-UNMISTAKABLE-9931";

async fn run(config: &std::path::Path, command: &str) -> Output {
    let mut ccc_sync = daemon::ccc_sync(config);
    ccc_sync.args(["--log-level", "trace", command]);
    daemon::output(ccc_sync).await
}

/// The source of every scenario, on `endpoint`.
fn source(endpoint: &str) -> SourceConfig {
    SourceConfig::new("s", ccc::INSTANCE)
        .endpoint(endpoint)
        .access_key_id("LTAI-sec")
        .start_from("1h")
        .retry_for("1s")
}

/// `dir/name` with `source`, its secret read from a file holding [`SECRET`].
fn write_config(
    dir: &std::path::Path,
    name: &str,
    db_url: &str,
    source: SourceConfig,
) -> std::path::PathBuf {
    std::fs::write(dir.join("secret"), SECRET).expect("secret");
    Config::new(db_url)
        .source(source.access_key_secret_file(&dir.join("secret")))
        .write(dir, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_and_the_database_password_appear_nowhere_through_failures_at_trace_level() {
    let db = TestDb::new().await;
    // Trust authentication ignores the password, so a distinctive one can ride along in the URL.
    let options: PgConnectOptions = db.url.parse().expect("url");
    let db_url = options.password(DB_PASSWORD).to_url_lossy().to_string();
    let right = ccc::scripted(vec![ccc::key("LTAI-sec", SECRET, None)]).await;
    let wrong = ccc::scripted(vec![ccc::key("LTAI-sec", "another-secret", None)]).await;
    let start = (Utc::now() - TimeDelta::minutes(10)).timestamp_millis();
    right.set_records(
        (0..3)
            .map(|i| ccc::record(&format!("S{i}"), start + i, &["1001@ccctest"], 1))
            .collect(),
    );
    let dir = tempfile::tempdir().expect("tempdir");

    let mut outputs = Vec::new();
    let ok = write_config(dir.path(), "ok.toml", &db_url, source(&right.endpoint()));
    outputs.push(("success", run(&ok, "once").await));
    let bad_signature = write_config(dir.path(), "sig.toml", &db_url, source(&wrong.endpoint()));
    outputs.push(("bad signature", run(&bad_signature, "once").await));
    right.fail_page(PageFault {
        page: 1,
        times: u32::MAX,
        status: 500,
        body: ccc::error_body("InternalError", "boom"),
    });
    outputs.push(("5xx", run(&ok, "once").await));
    let inline = source(&right.endpoint())
        .access_key_secret(SECRET)
        .lookback("soon");
    let config_error = write_config(dir.path(), "bad.toml", &db_url, inline);
    outputs.push(("config error", run(&config_error, "once").await));
    outputs.push(("check", run(&bad_signature, "check").await));

    let codes: Vec<Option<i32>> = outputs.iter().map(|(_, o)| o.status.code()).collect();
    assert_eq!(
        codes,
        [Some(0), Some(1), Some(1), Some(2), Some(1)],
        "each scenario ran as intended"
    );
    for (scenario, out) in &outputs {
        let text = printed(out);
        assert!(
            text.len() > 100,
            "{scenario}: the trace-level output is there to search"
        );
        assert!(
            !text.contains(SECRET),
            "{scenario}: the AccessKey secret leaked"
        );
        assert!(
            !text.contains(DB_PASSWORD),
            "{scenario}: the database password leaked"
        );
    }
    let stored: String = sqlx::query_scalar(
        "SELECT concat_ws(' ', (SELECT string_agg(r::text, ' ') FROM ccc.sync_runs r),
                              (SELECT string_agg(s::text, ' ') FROM ccc.sync_state s),
                              (SELECT string_agg(c::text, ' ') FROM ccc.calls c))",
    )
    .fetch_one(&db.pool)
    .await
    .expect("dump");
    assert!(
        stored.contains("SignatureDoesNotMatch") && stored.contains("InternalError"),
        "the failures were journaled"
    );
    assert!(!stored.contains(SECRET) && !stored.contains(DB_PASSWORD));
}

/// The built-in simulator serving `inst-1` to the key `LTAI-sec` with `secret`.
async fn simulator_with_secret(secret: &str) -> SimulatorHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let config = SimulatorConfig {
        calls: 200,
        days: 1,
        keys: vec![AccessKey {
            id: "LTAI-sec".into(),
            secret: secret.into(),
            agent: None,
        }],
        instance_ids: vec!["inst-1".into()],
        ..SimulatorConfig::default()
    };
    simulator::start(config, listener).await.expect("simulator")
}

/// Every (table, column, needle) of schema `ccc` whose value, as text, holds one of `needles` (hex escapes
/// in either case).
async fn columns_holding(pool: &PgPool, needles: &[String]) -> Vec<(String, String, String)> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text
           FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
          WHERE c.table_schema = 'ccc' AND t.table_type = 'BASE TABLE'
          ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .expect("columns");
    assert!(
        columns.contains(&("sync_runs".into(), "error".into())),
        "the journal is among the columns searched: {columns:?}"
    );
    let lowered: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    let mut found = Vec::new();
    for (table, column) in columns {
        let search: String = sqlx::query_scalar(
            "SELECT format('SELECT DISTINCT n FROM ccc.%I, unnest($1::text[]) n WHERE strpos(lower(%I::text), n) > 0', $1::text, $2::text)",
        )
        .bind(&table)
        .bind(&column)
        .fetch_one(pool)
        .await
        .expect("quote");
        let hits: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(search))
            .bind(&lowered)
            .fetch_all(pool)
            .await
            .expect("search");
        found.extend(hits.into_iter().map(|n| (table.clone(), column.clone(), n)));
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sts_token_appears_nowhere_through_a_signature_mismatch_check_and_the_journal() {
    let db = TestDb::new().await;
    let core = uuid::Uuid::new_v4().to_string();
    // `+`, `/` and `=` are escaped in a query and escaped again in a string to sign.
    let token = format!("STS.TokEn+{core}/sts==");
    let once_encoded = percent_encode(&token);
    let twice_encoded = percent_encode(&once_encoded);
    assert!(once_encoded.contains("%2B") && twice_encoded.contains("%252B"));
    let right = simulator_with_secret(SECRET).await;
    let wrong = simulator_with_secret("the-secret-the-service-holds").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).expect("token");
    let sts = |endpoint: &str| source(endpoint).security_token_file(&token_file);

    let mut outputs = Vec::new();
    let ok = write_config(dir.path(), "ok.toml", &db.url, sts(&right.endpoint()));
    outputs.push(("success", run(&ok, "once").await));
    let mismatch = write_config(dir.path(), "sig.toml", &db.url, sts(&wrong.endpoint()));
    outputs.push(("signature mismatch", run(&mismatch, "once").await));
    outputs.push(("check", run(&mismatch, "check").await));

    let codes: Vec<Option<i32>> = outputs.iter().map(|(_, o)| o.status.code()).collect();
    assert_eq!(
        codes,
        [Some(0), Some(1), Some(1)],
        "each scenario ran as intended"
    );
    let never_shown = [
        token.clone(),
        once_encoded,
        twice_encoded,
        core,
        SECRET.to_owned(),
    ];
    for (scenario, out) in &outputs {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .to_lowercase();
        assert!(
            text.len() > 100,
            "{scenario}: the trace-level output is there to search"
        );
        for needle in &never_shown {
            assert!(
                !text.contains(&needle.to_lowercase()),
                "{scenario}: {needle} leaked"
            );
        }
    }
    let check = String::from_utf8_lossy(&outputs[2].1.stdout);
    let request_id = check
        .split_once("(RequestId ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(id, _)| id)
        .expect("check names the RequestId");
    assert!(
        check.contains("SignatureDoesNotMatch")
            && check.contains("SecurityToken%3D[REDACTED]%26")
            && request_id != "none"
            && !request_id.is_empty(),
        "check still says what failed, for which request, and where the token was: {check}"
    );

    let (error_code, journaled_request_id, error): (String, String, String) = sqlx::query_as(
        "SELECT error_code, request_id, error FROM ccc.sync_runs WHERE status = 'failed'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("the failed window was journaled");
    assert_eq!(error_code, "SignatureDoesNotMatch");
    assert!(
        error.contains(&journaled_request_id)
            && error.contains("server string to sign is:POST&%2F&AccessKeyId%3DLTAI-sec%26")
            && error.contains("SecurityToken%3D[REDACTED]%26"),
        "the journal keeps the request id and the server's string to sign, without the token: {error}"
    );
    let succeeded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ccc.sync_runs WHERE status = 'succeeded'")
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert!(succeeded > 0, "the STS-signed sync committed windows");
    let found = columns_holding(&db.pool, &["SignatureDoesNotMatch".to_owned()]).await;
    assert!(
        found.contains(&(
            "sync_runs".into(),
            "error".into(),
            "signaturedoesnotmatch".into()
        )),
        "the search finds what is there: {found:?}"
    );
    let leaks = columns_holding(&db.pool, &never_shown).await;
    assert!(
        leaks.is_empty(),
        "no column of the warehouse holds the token or the secret: {leaks:?}"
    );
    right.shutdown().await;
    wrong.shutdown().await;
}

#[tokio::test]
async fn the_least_privilege_roles_can_sync_and_read_and_nothing_more() {
    let db = TestDb::empty().await;
    let roles =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/sql/roles.sql"))
            .expect("script");
    sqlx::raw_sql(sqlx::AssertSqlSafe(roles))
        .execute(&db.pool)
        .await
        .expect("roles.sql applies");
    let options: PgConnectOptions = db.url.parse().expect("url");
    let writer_url = options
        .clone()
        .username("ccc_sync")
        .to_url_lossy()
        .to_string();
    let writer = sqlx::PgPool::connect(&writer_url)
        .await
        .expect("the writer logs in");
    ccc_sync::db::migrate(&writer)
        .await
        .expect("the writer runs the migrations");
    let key = ccc::key("LTAI-w", "w", None);
    let sim = ccc::scripted(vec![key.clone()]).await;
    sim.set_records(vec![ccc::record(
        "P1",
        (Utc::now() - TimeDelta::minutes(5)).timestamp_millis(),
        &["1001@ccctest"],
        1,
    )]);
    let source = Config::new(&writer_url)
        .source(
            SourceConfig::new("w", ccc::INSTANCE)
                .endpoint(&sim.endpoint())
                .key(&key),
        )
        .load_source();
    ccc_sync::scheduler::sync_source(&writer, &source, Utc::now(), &CancellationToken::new())
        .await
        .expect("the writer syncs");

    let denied = sqlx::query("CREATE TABLE public.intruder (x int)")
        .execute(&writer)
        .await;
    assert!(denied.is_err(), "the writer has no rights on public");
    let mut reader = PgConnection::connect(&db.url).await.expect("connect");
    sqlx::query("SET ROLE ccc_reader")
        .execute(&mut reader)
        .await
        .expect("set role");
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.calls")
        .fetch_one(&mut reader)
        .await
        .expect("the reader reads");
    assert_eq!(calls, 1);
    let write = sqlx::query("DELETE FROM ccc.calls")
        .execute(&mut reader)
        .await;
    assert!(write.is_err(), "the reader cannot write");
    writer.close().await;
}

/// The local server's certificate (Debian's snakeoil, issued to `localhost`) serves as its own root.
async fn server_certificate(db: &TestDb) -> String {
    let (ssl, cert): (String, String) =
        sqlx::query_as("SELECT current_setting('ssl'), current_setting('ssl_cert_file')")
            .fetch_one(&db.pool)
            .await
            .expect("settings");
    assert_eq!(ssl, "on", "this test needs a PostgreSQL with ssl = on");
    cert
}

#[tokio::test]
async fn tls_with_verify_full_works_through_the_config_and_a_wrong_root_is_refused() {
    let db = TestDb::new().await;
    let cert = server_certificate(&db).await;
    let options: PgConnectOptions = db.url.parse().expect("url");
    let url = |root: &str| {
        format!(
            "postgres://{}@localhost:{}/{}?sslmode=verify-full&sslrootcert={root}",
            options.get_username(),
            options.get_port(),
            options.get_database().expect("database")
        )
    };
    let load = |db_url: String| {
        let source = SourceConfig::new("t", "i")
            .access_key_id("a")
            .access_key_secret("b");
        Config::new(&db_url).source(source).load()
    };

    let verified = load(url(&cert));
    let mut conn = verified
        .settings
        .database
        .connect
        .connect()
        .await
        .expect("verify-full against the server's root");
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .expect("pg_stat_ssl");
    assert!(encrypted);

    let wrong = load(url("/etc/ssl/certs/ca-certificates.crt"));
    let refused = wrong
        .settings
        .database
        .connect
        .connect()
        .await
        .expect_err("an unknown issuer is refused");
    assert!(
        refused.to_string().to_lowercase().contains("certificate"),
        "{refused}"
    );
}
