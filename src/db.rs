//! The database server: the connection pool, the embedded migrations, and the scratch databases the
//! tools create.
//!
//! Everything ccc-sync owns, the migration history included, lives in schema `ccc`, so the writer role
//! needs no rights on `public` (PostgreSQL 15 grants none by default).

use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

/// The migrations in `migrations/`, compiled into the binary, with their history kept in `ccc`.
pub(crate) fn migrator() -> Migrator {
    let mut m = sqlx::migrate!("./migrations");
    m.dangerous_set_table_name("ccc._sqlx_migrations");
    m
}

/// Applies every migration not yet applied; safe to run from several replicas at once (it locks).
///
/// Schema `ccc` is created only when missing: `CREATE SCHEMA IF NOT EXISTS` needs the CREATE right on the
/// database even when the schema exists, a right the least-privilege role (deploy/sql/roles.sql) lacks.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'ccc')")
            .fetch_one(pool)
            .await?;
    let mut m = migrator();
    if !exists {
        m.create_schema("ccc");
    }
    m.run(pool).await
}

/// Whether every embedded migration has been applied, for readiness and `status`.
pub async fn migrations_applied(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let latest = migrator().iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT max(version) FROM ccc._sqlx_migrations WHERE success AND to_regclass('ccc._sqlx_migrations') IS NOT NULL",
    )
    .fetch_one(pool)
    .await
    .or_else(|e| match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => Ok(None),
        _ => Err(e),
    })?;
    Ok(applied.unwrap_or(0) >= latest)
}

/// Opens a pool lazily: the first query connects, so a database that is down at start-up is retried by
/// the sync loop instead of ending the process.
pub fn pool(options: PgConnectOptions, max_connections: u32, acquire_timeout: Duration) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_lazy_with(options.application_name("ccc-sync"))
}

/// A database error as an operator should read it. A pool timeout hides why no connection opened, so then
/// one direct attempt with the pool's options, bounded by its acquire timeout, names the cause (refused,
/// DNS, TLS, authentication). PostgreSQL's own source position (`… at line 334`) is left out.
pub async fn explain(
    pool: &PgPool,
    error: &(dyn std::error::Error + Send + Sync + 'static),
) -> String {
    let text = without_source_position(&error.to_string()).to_owned();
    if !timed_out(error) {
        return text;
    }
    match connect_failure(pool, pool.options().get_acquire_timeout()).await {
        Some(cause) => format!("{text}: {cause}"),
        None => text,
    }
}

/// Why a new connection with the pool's options does not open within `within`; `None` when it opens.
pub async fn connect_failure(pool: &PgPool, within: Duration) -> Option<String> {
    let options = pool.connect_options();
    match tokio::time::timeout(within, PgConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            None
        }
        Ok(Err(e)) => Some(without_source_position(&e.to_string()).to_owned()),
        Err(_) => Some(format!(
            "connecting did not finish within {} ms",
            within.as_millis()
        )),
    }
}

/// Whether `error`, or an error it wraps, is the pool's acquire timeout.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source())
        .any(|e| matches!(e.downcast_ref(), Some(sqlx::Error::PoolTimedOut)))
}

/// `text` without the ` at line N` PostgreSQL appends to its messages: a line of its C source, which
/// means nothing to an operator.
pub(crate) fn without_source_position(text: &str) -> &str {
    let Some((message, line)) = text.trim_end().rsplit_once(" at line ") else {
        return text;
    };
    if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) {
        message
    } else {
        text
    }
}

/// Whether PostgreSQL knows `zone` by that name, as `ccc.settings.business_time_zone` requires. Its
/// time-zone data may be older than ours, so `check` asks before the daemon writes the setting.
pub async fn knows_time_zone(pool: &PgPool, zone: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_timezone_names WHERE name = $1)")
        .bind(zone)
        .fetch_one(pool)
        .await
}

/// The server's version, as `SHOW server_version` prints it.
pub async fn server_version(conn: &mut PgConnection) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SHOW server_version")
        .fetch_one(conn)
        .await
}

/// Drops database `name` if it exists and creates it empty. `name` must be a plain identifier the caller
/// made up (it is not quoted).
pub async fn recreate_database(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
        .execute(&mut *conn)
        .await?;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates database `name` unless it exists; `true` when it was created. `name` must be a plain identifier.
pub async fn create_database_if_missing(
    conn: &mut PgConnection,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
    if !exists {
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(conn)
            .await?;
    }
    Ok(!exists)
}

/// Drops database `name`, closing its sessions first.
pub async fn drop_database(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(conn)
    .await?;
    Ok(())
}

/// The cluster's next transaction id, read without taking one. Over a pass, the difference counts the
/// transactions that wrote (an idle pass journals its window, so it writes in exactly one). Unlike
/// `pg_stat_database`, which backends flush when they get round to it, it is exact at once.
pub async fn next_transaction_id(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8")
        .fetch_one(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::without_source_position;

    #[test]
    fn postgresql_source_positions_are_stripped_and_nothing_else() {
        assert_eq!(
            without_source_position(
                "error returned from database: password authentication failed for user \"writer\" at line 334"
            ),
            "error returned from database: password authentication failed for user \"writer\""
        );
        assert_eq!(
            without_source_position("database \"x\" does not exist at line 1032\n"),
            "database \"x\" does not exist"
        );
        for kept in [
            "connection refused",
            "syntax error at line 3 of the statement",
            "stopped at line ",
        ] {
            assert_eq!(without_source_position(kept), kept);
        }
    }
}
