//! What every integration test shares: a fresh, migrated database per test on the real local PostgreSQL
//! (here), the one fake CCC service (`ccc`), config files from typed fields (`config`), the real binary
//! as a command or a daemon (`daemon`), a real S3-compatible server (`s3`), and the Python virtualenvs
//! that tools from PyPI run in (`venv`).
//!
//! The server comes from `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! If it is not answering, the harness tries `pg_ctlcluster <ver> main start` once and otherwise fails with
//! a message that says what is missing. Each test gets its own database, dropped when the test ends.

pub mod ccc;
pub mod config;
pub mod daemon;
pub mod s3;
pub mod venv;

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own for one test, migrated, dropped on drop (even when the test panics).
pub struct TestDb {
    pub name: String,
    /// For tests that run the binary against this database.
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let db = TestDb::empty().await;
        ccc_sync::db::migrate(&db.pool)
            .await
            .expect("migrations apply");
        db
    }

    /// A fresh database without the schema, for tests of migration itself.
    pub async fn empty() -> TestDb {
        let server = server_url();
        let mut admin = connect_admin(&server).await;
        let name = format!("ccc_sync_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("the test role may CREATE DATABASE");
        let options = PgConnectOptions::from_str(&server)
            .expect("url")
            .database(&name);
        let url = options.to_url_lossy().to_string();
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("connect to the test database");
        TestDb { name, url, pool }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs on the test's single-threaded runtime, which must not be awaited here: a thread with
        // its own runtime drops the database, and FORCE ends the pool's connections.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&server_url()).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut admin)
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

async fn connect_admin(url: &str) -> PgConnection {
    match PgConnection::connect(url).await {
        Ok(c) => c,
        Err(first) => {
            start_local_postgres(&first);
            let mut last = first;
            for _ in 0..50 {
                match PgConnection::connect(url).await {
                    Ok(c) => return c,
                    Err(e) => last = e,
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            panic!(
                "PostgreSQL at {url} is not reachable ({last}). Start it (`pg_ctlcluster 15 main start`) or set \
                 TEST_DATABASE_URL to a server whose role may CREATE DATABASE."
            );
        }
    }
}

/// Starts the Debian cluster once per test process if the server was down.
fn start_local_postgres(cause: &sqlx::Error) {
    static TRIED: OnceLock<()> = OnceLock::new();
    TRIED.get_or_init(|| {
        eprintln!("PostgreSQL is not answering ({cause}); trying pg_ctlcluster");
        let versions = std::fs::read_dir("/etc/postgresql")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_else(|_| Vec::<String>::new());
        if versions.is_empty() {
            eprintln!(
                "no PostgreSQL cluster is installed here (/etc/postgresql is empty or missing)"
            );
        }
        for v in versions {
            let status = std::process::Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &v, "main", "start"])
                .status();
            eprintln!("pg_ctlcluster {v} main start: {status:?}");
        }
    });
}
