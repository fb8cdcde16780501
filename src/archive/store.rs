//! The archive's rows: which files wait, and how each one ended (`ccc.recording_archive`).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::Span;

/// A recording file not archived yet.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingFile {
    pub instance_id: String,
    pub contact_id: String,
    pub file_name: String,
    /// The call's start: the date in the object key.
    pub call_start: DateTime<Utc>,
}

/// Files of an instance's recordings neither archived nor gone (failing ones counted), oldest call first.
const PENDING: &str = "
    SELECT DISTINCT r.instance_id, r.contact_id, r.file_name, c.start_time AS call_start
    FROM ccc.recordings AS r
    JOIN ccc.calls AS c USING (instance_id, contact_id)
    LEFT JOIN ccc.recording_archive AS a USING (instance_id, contact_id, file_name)
    WHERE r.instance_id = $1 AND r.file_name <> ''
      AND (a.state IS NULL OR (a.state = 'failing' AND a.retry_after <= now()))
      AND ($2::timestamptz IS NULL OR c.start_time >= $2)
      AND ($3::timestamptz IS NULL OR c.start_time < $3)
    ORDER BY c.start_time, r.contact_id, r.file_name
    LIMIT $4";

/// Up to `limit` files of `instance_id` to archive now, oldest call first: the service deletes the
/// oldest files first.
pub(super) async fn pending(
    pool: &PgPool,
    instance_id: &str,
    span: Span,
    limit: i64,
) -> Result<Vec<PendingFile>, sqlx::Error> {
    sqlx::query_as(PENDING)
        .bind(instance_id)
        .bind(span.from)
        .bind(span.to)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// An instance's files waiting to be archived (failing ones included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub files: u64,
    /// The start of the oldest call with a file waiting.
    pub oldest_call: Option<DateTime<Utc>>,
    pub archived: u64,
    pub gone: u64,
    pub failing: u64,
}

/// The archive's state for `instance_id`, read from the BI view that says each file's state.
pub async fn backlog(pool: &PgPool, instance_id: &str) -> Result<Backlog, sqlx::Error> {
    let (files, oldest_call, archived, gone, failing): (i64, Option<DateTime<Utc>>, i64, i64, i64) =
        sqlx::query_as(
            "SELECT count(DISTINCT (contact_id, file_name))
                    FILTER (WHERE archive_state IN ('pending', 'failing')),
                min(call_start_time) FILTER (WHERE archive_state IN ('pending', 'failing')),
                count(DISTINCT (contact_id, file_name)) FILTER (WHERE archive_state = 'archived'),
                count(DISTINCT (contact_id, file_name)) FILTER (WHERE archive_state = 'gone'),
                count(DISTINCT (contact_id, file_name)) FILTER (WHERE archive_state = 'failing')
         FROM ccc.recording_files
         WHERE instance_id = $1",
        )
        .bind(instance_id)
        .fetch_one(pool)
        .await?;
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    Ok(Backlog {
        files: count(files),
        oldest_call,
        archived: count(archived),
        gone: count(gone),
        failing: count(failing),
    })
}

/// A file copied: where, and what.
pub(super) struct Archived<'a> {
    pub target: &'a str,
    pub object_key: &'a str,
    pub size: u64,
    pub sha256: &'a str,
    pub content_type: Option<&'a str>,
}

/// Records a file as archived. Called only once its object is complete.
pub(super) async fn record_archived(
    pool: &PgPool,
    file: &PendingFile,
    archived: &Archived<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ccc.recording_archive
             (instance_id, contact_id, file_name, state, target, object_key, size_bytes, sha256,
              content_type, archived_at)
         VALUES ($1, $2, $3, 'archived', $4, $5, $6, $7, $8, now())
         ON CONFLICT (instance_id, contact_id, file_name) DO UPDATE SET
             state = 'archived', target = EXCLUDED.target, object_key = EXCLUDED.object_key,
             size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256,
             content_type = EXCLUDED.content_type, archived_at = EXCLUDED.archived_at,
             gone_reason = NULL, last_error = NULL, retry_after = NULL, updated_at = now()",
    )
    .bind(&file.instance_id)
    .bind(&file.contact_id)
    .bind(&file.file_name)
    .bind(archived.target)
    .bind(archived.object_key)
    .bind(i64::try_from(archived.size).unwrap_or(i64::MAX))
    .bind(archived.sha256)
    .bind(archived.content_type)
    .execute(pool)
    .await
    .map(drop)
}

/// Records a file the service no longer has; never tried again. An archived row stays archived.
pub(super) async fn record_gone(
    pool: &PgPool,
    file: &PendingFile,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ccc.recording_archive AS a
             (instance_id, contact_id, file_name, state, gone_reason)
         VALUES ($1, $2, $3, 'gone', $4)
         ON CONFLICT (instance_id, contact_id, file_name) DO UPDATE SET
             state = 'gone', gone_reason = EXCLUDED.gone_reason, last_error = NULL,
             retry_after = NULL, updated_at = now()
         WHERE a.state <> 'archived'",
    )
    .bind(&file.instance_id)
    .bind(&file.contact_id)
    .bind(&file.file_name)
    .bind(reason)
    .execute(pool)
    .await
    .map(drop)
}

/// Records a transient failure: the file waits a minute after its first failure, doubling each time up
/// to a day. An archived or gone row stays as it is.
pub(super) async fn record_failing(
    pool: &PgPool,
    file: &PendingFile,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ccc.recording_archive AS a
             (instance_id, contact_id, file_name, state, attempts, last_error, retry_after)
         VALUES ($1, $2, $3, 'failing', 1, $4, now() + interval '1 minute')
         ON CONFLICT (instance_id, contact_id, file_name) DO UPDATE SET
             state = 'failing', attempts = a.attempts + 1, last_error = EXCLUDED.last_error,
             retry_after = now() + least(interval '1 minute' * power(2, least(a.attempts, 20)),
                                         interval '1 day'),
             updated_at = now()
         WHERE a.state = 'failing'",
    )
    .bind(&file.instance_id)
    .bind(&file.contact_id)
    .bind(&file.file_name)
    .bind(error)
    .execute(pool)
    .await
    .map(drop)
}
