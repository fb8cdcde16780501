//! Every read the commands show a person or a script: each source's state for `status`, row counts, what a
//! re-sync wrote, a dashboard's sample query, and the rows of a table for a bulk copy. The sync's own reads
//! (its state inside a window's transaction) stay with the writer; locks live in [`crate::lock`].

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use sqlx::postgres::PgRow;
use sqlx::{Column as _, PgConnection, PgPool, Row as _, TypeInfo as _, ValueRef as _};

use crate::writer::Table;

/// A source's watermark and its latest journalled run, for `ccc-sync status`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SourceStatus {
    pub source: String,
    pub watermark: DateTime<Utc>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Calls of its instance whose details (a `ccc2` source's agent events and recordings) are still to fetch.
    pub details_pending: i64,
}

/// Every source in `ccc.sync_state` with its latest run, by name.
pub(crate) async fn source_statuses(pool: &PgPool) -> Result<Vec<SourceStatus>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.source, s.watermark, s.last_success_at, r.kind, r.status, r.finished_at, r.error,
                (SELECT count(*) FROM ccc.calls c WHERE c.instance_id = s.instance_id AND c.details_pending)
                    AS details_pending
         FROM ccc.sync_state s
         LEFT JOIN LATERAL (SELECT kind, status, finished_at, error FROM ccc.sync_runs
                            WHERE source = s.source ORDER BY finished_at DESC LIMIT 1) r ON true
         ORDER BY s.source",
    )
    .fetch_all(pool)
    .await
}

/// Rows of the three call tables.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RowCounts {
    pub calls: u64,
    pub legs: u64,
    pub recordings: u64,
}

impl RowCounts {
    pub fn total(&self) -> u64 {
        self.calls + self.legs + self.recordings
    }
}

/// Calls, agent legs and recordings stored for `instance_id`, or for every instance.
pub async fn row_counts(
    pool: &PgPool,
    instance_id: Option<&str>,
) -> Result<RowCounts, sqlx::Error> {
    let (calls, legs, recordings): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM ccc.calls WHERE $1::text IS NULL OR instance_id = $1),
                (SELECT count(*) FROM ccc.agent_legs WHERE $1::text IS NULL OR instance_id = $1),
                (SELECT count(*) FROM ccc.recordings WHERE $1::text IS NULL OR instance_id = $1)",
    )
    .bind(instance_id)
    .fetch_one(pool)
    .await?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(RowCounts {
        calls: count(calls),
        legs: count(legs),
        recordings: count(recordings),
    })
}

/// Rows the windows journalled since `since` wrote (calls, legs and recordings); 0 when a re-sync of
/// unchanged data rewrote nothing.
pub async fn rows_written_since(pool: &PgPool, since: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let written: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(calls_written + legs_written + recordings_written), 0)::int8
         FROM ccc.sync_runs WHERE started_at >= $1",
    )
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(written).unwrap_or(0))
}

/// Questions a contact-center dashboard asks of the BI views, each with `$1` the instance; `ccc-sync demo`
/// shows them with their answers.
pub const DASHBOARD_SAMPLES: [(&str, &str); 2] = [
    (
        "Calls per business day and type, with the share answered",
        "SELECT business_date AS day, contact_type_label_en AS contact_type, offered, answered, abandoned,
       round(100 * answer_rate, 1)::float8 AS answered_pct
FROM ccc.daily_calls
WHERE instance_id = $1
ORDER BY 1, 2",
    ),
    (
        "Top five agents by talk time",
        "SELECT agent_id, min(agent_name) AS agent_name, sum(calls_handled)::int8 AS calls,
       sum(talk_time)::int8 AS talk_s,
       round(sum(handle_time)::numeric / nullif(sum(calls_handled), 0))::int8 AS avg_handle_s
FROM ccc.agent_daily
WHERE instance_id = $1
GROUP BY 1
ORDER BY talk_s DESC NULLS LAST
LIMIT 5",
    ),
];

/// A query's answer as text: its column names and each row's cells (`NULL` for nulls).
#[derive(Debug, Default)]
pub struct TextTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Runs one of [`DASHBOARD_SAMPLES`] for `instance_id` and renders every cell as text.
pub async fn dashboard_sample(
    pool: &PgPool,
    sql: &'static str,
    instance_id: &str,
) -> Result<TextTable, sqlx::Error> {
    let rows = sqlx::query(sql).bind(instance_id).fetch_all(pool).await?;
    let headers = rows.first().map_or_else(Vec::new, |first| {
        first
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect()
    });
    let rows = rows.iter().map(cells).collect::<Result<_, _>>()?;
    Ok(TextTable { headers, rows })
}

fn cells(row: &PgRow) -> Result<Vec<String>, sqlx::Error> {
    let mut line = Vec::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let text = if row.try_get_raw(i)?.is_null() {
            "NULL".to_owned()
        } else {
            match column.type_info().name() {
                "INT8" => row.try_get::<i64, _>(i)?.to_string(),
                "INT4" => row.try_get::<i32, _>(i)?.to_string(),
                "FLOAT8" => row.try_get::<f64, _>(i)?.to_string(),
                "DATE" => row.try_get::<chrono::NaiveDate, _>(i)?.to_string(),
                _ => row.try_get::<String, _>(i).unwrap_or_default(),
            }
        };
        line.push(text);
    }
    Ok(line)
}

/// Writes the rows of `table` (the columns the writer fills) to `out` in PostgreSQL's COPY text format, for
/// a bulk load elsewhere ([`crate::writer::staged_load`]).
pub async fn copy_out(
    conn: &mut PgConnection,
    table: &Table,
    out: &mut impl std::io::Write,
) -> Result<(), sqlx::Error> {
    let statement = format!(
        "COPY (SELECT {} FROM ccc.{}) TO STDOUT",
        table.column_list(),
        table.name
    );
    let mut chunks = conn.copy_out_raw(&statement).await?;
    while let Some(chunk) = chunks.next().await {
        out.write_all(&chunk?)?;
    }
    out.flush()?;
    Ok(())
}
