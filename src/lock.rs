//! One replica per source: a PostgreSQL advisory lock held on a session of its own.
//!
//! The lock lives as long as its connection: a replica that is killed or loses the database releases it at
//! once, and a standby takes the source over at its next try (within one interval).

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

/// The lock of one source, held while this value lives.
pub struct SourceLock {
    conn: PgConnection,
}

impl SourceLock {
    /// Takes the source's lock if no other session holds it.
    pub async fn try_acquire(
        options: &PgConnectOptions,
        source: &str,
    ) -> Result<Option<SourceLock>, sqlx::Error> {
        let mut conn = options
            .clone()
            .application_name(&format!("ccc-sync lock {source}"))
            .connect()
            .await?;
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(format!("ccc-sync:{source}"))
            .fetch_one(&mut conn)
            .await?;
        if held {
            Ok(Some(SourceLock { conn }))
        } else {
            conn.close().await?;
            Ok(None)
        }
    }

    /// Whether the session holding the lock is still there.
    pub(crate) async fn still_held(&mut self) -> bool {
        self.conn.ping().await.is_ok()
    }
}
