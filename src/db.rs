//! The database connection pool and the embedded migrations.
//!
//! Everything ccc-sync owns, the migration history included, lives in schema `ccc`, so the writer role
//! needs no rights on `public` (PostgreSQL 15 grants none by default).

use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The migrations in `migrations/`, compiled into the binary, with their history kept in `ccc`.
pub fn migrator() -> Migrator {
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

/// Whether PostgreSQL knows `zone` by that name, as `ccc.settings.business_time_zone` requires. Its
/// time-zone data may be older than ours, so `check` asks before the daemon writes the setting.
pub async fn knows_time_zone(pool: &PgPool, zone: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_timezone_names WHERE name = $1)")
        .bind(zone)
        .fetch_one(pool)
        .await
}

/// Writes the configured business time zone to `ccc.settings` (a change re-dates calls and legs).
/// `Ok(false)` when PostgreSQL does not know the zone.
pub async fn set_business_time_zone(pool: &PgPool, zone: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE ccc.settings SET business_time_zone = $1 WHERE business_time_zone IS DISTINCT FROM $1",
    )
    .bind(zone)
    .execute(pool)
    .await;
    match result {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23514") => Ok(false),
        Err(e) => Err(e),
    }
}
