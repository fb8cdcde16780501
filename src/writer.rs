//! Every write to the warehouse: set-based upserts of one page, the watermark, the `sync_runs` journal and
//! its pruning, and the table list a bulk load shares with them. Reads for people live in [`crate::reads`].
//!
//! Query functions take `&mut PgConnection` (a transaction derefs to one); the caller opens one transaction
//! per window and commits once, after [`finish_window`] has moved the watermark in that same transaction.
//! A call's `raw` JSON holds its legs and recordings too, so a call whose `raw` did not change is skipped
//! whole: re-syncing the lookback rewrites nothing.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::ccc::{CallRecord, InvalidRecord};
use crate::window::Window;

/// Rows a page or a window changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    /// Calls inserted or changed (an unchanged call is not rewritten and not counted).
    pub calls: u64,
    /// Agent legs inserted, changed or removed because the call lost them.
    pub legs: u64,
    /// Recordings inserted, changed or removed.
    pub recordings: u64,
    /// Invalid records newly kept in `ccc.quarantined_records`.
    pub quarantined: u64,
}

impl WriteStats {
    pub(crate) fn add(&mut self, other: WriteStats) {
        self.calls += other.calls;
        self.legs += other.legs;
        self.recordings += other.recordings;
        self.quarantined += other.quarantined;
    }

    pub fn rows(&self) -> u64 {
        self.calls + self.legs + self.recordings
    }
}

/// Upserts one page of calls (deduplicated by the caller) with their legs and recordings.
///
/// `default_instance` fills `InstanceId` where a record lacks it.
pub async fn write_calls(
    conn: &mut PgConnection,
    default_instance: &str,
    records: &[CallRecord],
) -> Result<WriteStats, sqlx::Error> {
    if records.is_empty() {
        return Ok(WriteStats::default());
    }
    let mut c = CallColumns::default();
    for r in records {
        c.push(r, default_instance);
    }
    let changed: Vec<(String, String)> = sqlx::query_as(
        "INSERT INTO ccc.calls AS c (instance_id, contact_id, start_time, duration, contact_type,
             contact_disposition, calling_number, called_number, agent_names, skill_group_names,
             satisfaction, satisfaction_desc, feedback, extra_attr, raw, leg_count, queue_time, ring_time,
             talk_time, hold_time, work_time, business_date)
         SELECT u.*, (u.start_time AT TIME ZONE ccc.business_time_zone())::date
         FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::int4[], $5::text[], $6::text[],
             $7::text[], $8::text[], $9::text[], $10::text[], $11::int4[], $12::text[], $13::text[],
             $14::text[], $15::jsonb[], $16::int4[], $17::int4[], $18::int4[], $19::int4[], $20::int4[],
             $21::int4[]) AS u(instance_id, contact_id, start_time, duration, contact_type,
             contact_disposition, calling_number, called_number, agent_names, skill_group_names,
             satisfaction, satisfaction_desc, feedback, extra_attr, raw, leg_count, queue_time, ring_time,
             talk_time, hold_time, work_time)
         ON CONFLICT (instance_id, contact_id) DO UPDATE SET
             start_time = EXCLUDED.start_time, duration = EXCLUDED.duration,
             contact_type = EXCLUDED.contact_type, contact_disposition = EXCLUDED.contact_disposition,
             calling_number = EXCLUDED.calling_number, called_number = EXCLUDED.called_number,
             agent_names = EXCLUDED.agent_names, skill_group_names = EXCLUDED.skill_group_names,
             satisfaction = EXCLUDED.satisfaction, satisfaction_desc = EXCLUDED.satisfaction_desc,
             feedback = EXCLUDED.feedback, extra_attr = EXCLUDED.extra_attr, raw = EXCLUDED.raw,
             leg_count = EXCLUDED.leg_count, queue_time = EXCLUDED.queue_time,
             ring_time = EXCLUDED.ring_time, talk_time = EXCLUDED.talk_time,
             hold_time = EXCLUDED.hold_time, work_time = EXCLUDED.work_time,
             business_date = EXCLUDED.business_date, last_changed_at = now()
         WHERE c.raw IS DISTINCT FROM EXCLUDED.raw
         RETURNING instance_id, contact_id",
    )
    .bind(&c.instance_id)
    .bind(&c.contact_id)
    .bind(&c.start_time)
    .bind(&c.duration)
    .bind(&c.contact_type)
    .bind(&c.contact_disposition)
    .bind(&c.calling_number)
    .bind(&c.called_number)
    .bind(&c.agent_names)
    .bind(&c.skill_group_names)
    .bind(&c.satisfaction)
    .bind(&c.satisfaction_desc)
    .bind(&c.feedback)
    .bind(&c.extra_attr)
    .bind(&c.raw)
    .bind(&c.leg_count)
    .bind(&c.queue_time)
    .bind(&c.ring_time)
    .bind(&c.talk_time)
    .bind(&c.hold_time)
    .bind(&c.work_time)
    .fetch_all(&mut *conn)
    .await?;
    let mut stats = WriteStats {
        calls: changed.len() as u64,
        ..WriteStats::default()
    };
    if changed.is_empty() {
        return Ok(stats);
    }
    let changed: HashSet<(&str, &str)> = changed
        .iter()
        .map(|(i, c)| (i.as_str(), c.as_str()))
        .collect();
    let changed_records: Vec<&CallRecord> = records
        .iter()
        .filter(|r| {
            changed.contains(&(
                r.instance_id.as_deref().unwrap_or(default_instance),
                r.contact_id.as_str(),
            ))
        })
        .collect();
    stats.legs = write_legs(conn, default_instance, &changed_records).await?;
    stats.recordings = write_recordings(conn, default_instance, &changed_records).await?;
    Ok(stats)
}

/// Replaces the legs of changed calls: stale positions go, changed positions are updated, equal ones stay.
async fn write_legs(
    conn: &mut PgConnection,
    default_instance: &str,
    calls: &[&CallRecord],
) -> Result<u64, sqlx::Error> {
    let keys = Keys::of(calls, default_instance, |r| r.agents.len());
    let removed = remove_beyond(conn, Positions::LEGS, &keys).await?;
    let mut l = LegColumns::default();
    for r in calls {
        for (i, leg) in r.agents.iter().enumerate() {
            l.instance_id
                .push(r.instance_id.as_deref().unwrap_or(default_instance));
            l.contact_id.push(&r.contact_id);
            l.call_start_time
                .push(DateTime::from_timestamp_millis(r.start_time_ms).unwrap_or_default());
            l.leg_no.push(position(i));
            l.agent_id.push(leg.agent_id.as_deref());
            l.agent_name.push(leg.agent_name.as_deref());
            l.skill_group_name.push(leg.skill_group_name.as_deref());
            l.start_time
                .push(leg.start_time_ms.and_then(DateTime::from_timestamp_millis));
            l.queue_time.push(leg.queue_time);
            l.ring_time.push(leg.ring_time);
            l.talk_time.push(leg.talk_time);
            l.hold_time.push(leg.hold_time);
            l.work_time.push(leg.work_time);
            l.satisfaction.push(leg.satisfaction.as_deref());
            l.feedback.push(leg.feedback.as_deref());
        }
    }
    if l.contact_id.is_empty() {
        return Ok(removed);
    }
    let upserted = sqlx::query(
        "INSERT INTO ccc.agent_legs AS l (instance_id, contact_id, leg_no, agent_id, agent_name,
             skill_group_name, start_time, queue_time, ring_time, talk_time, hold_time, work_time,
             satisfaction, feedback, business_date)
         SELECT u.instance_id, u.contact_id, u.leg_no, u.agent_id, u.agent_name, u.skill_group_name,
             u.start_time, u.queue_time, u.ring_time, u.talk_time, u.hold_time, u.work_time,
             u.satisfaction, u.feedback, (u.call_start_time AT TIME ZONE ccc.business_time_zone())::date
         FROM UNNEST($1::text[], $2::text[], $3::int2[], $4::text[], $5::text[], $6::text[],
             $7::timestamptz[], $8::int4[], $9::int4[], $10::int4[], $11::int4[], $12::int4[], $13::text[],
             $14::text[], $15::timestamptz[]) AS u(instance_id, contact_id, leg_no, agent_id, agent_name,
             skill_group_name, start_time, queue_time, ring_time, talk_time, hold_time, work_time,
             satisfaction, feedback, call_start_time)
         ON CONFLICT (instance_id, contact_id, leg_no) DO UPDATE SET
             agent_id = EXCLUDED.agent_id, agent_name = EXCLUDED.agent_name,
             skill_group_name = EXCLUDED.skill_group_name, start_time = EXCLUDED.start_time,
             queue_time = EXCLUDED.queue_time, ring_time = EXCLUDED.ring_time,
             talk_time = EXCLUDED.talk_time, hold_time = EXCLUDED.hold_time,
             work_time = EXCLUDED.work_time, satisfaction = EXCLUDED.satisfaction,
             feedback = EXCLUDED.feedback, business_date = EXCLUDED.business_date
         WHERE (l.agent_id, l.agent_name, l.skill_group_name, l.start_time, l.queue_time, l.ring_time,
                l.talk_time, l.hold_time, l.work_time, l.satisfaction, l.feedback, l.business_date)
             IS DISTINCT FROM
               (EXCLUDED.agent_id, EXCLUDED.agent_name, EXCLUDED.skill_group_name, EXCLUDED.start_time,
                EXCLUDED.queue_time, EXCLUDED.ring_time, EXCLUDED.talk_time, EXCLUDED.hold_time,
                EXCLUDED.work_time, EXCLUDED.satisfaction, EXCLUDED.feedback, EXCLUDED.business_date)",
    )
    .bind(&l.instance_id)
    .bind(&l.contact_id)
    .bind(&l.leg_no)
    .bind(&l.agent_id)
    .bind(&l.agent_name)
    .bind(&l.skill_group_name)
    .bind(&l.start_time)
    .bind(&l.queue_time)
    .bind(&l.ring_time)
    .bind(&l.talk_time)
    .bind(&l.hold_time)
    .bind(&l.work_time)
    .bind(&l.satisfaction)
    .bind(&l.feedback)
    .bind(&l.call_start_time)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(removed + upserted)
}

/// A per-call list stored one row per position: its table and its position column.
struct Positions {
    table: &'static str,
    position: &'static str,
}

impl Positions {
    const LEGS: Positions = Positions {
        table: "ccc.agent_legs",
        position: "leg_no",
    };
    const RECORDINGS: Positions = Positions {
        table: "ccc.recordings",
        position: "recording_no",
    };
}

/// Deletes the positions past each call's new list length: a call that had 3 legs and now has 2 has 2.
async fn remove_beyond(
    conn: &mut PgConnection,
    list: Positions,
    keys: &Keys<'_>,
) -> Result<u64, sqlx::Error> {
    // Both names are the constants above, never input.
    let sql = format!(
        "DELETE FROM {table} x
         USING UNNEST($1::text[], $2::text[], $3::int4[]) AS k(instance_id, contact_id, n)
         WHERE x.instance_id = k.instance_id AND x.contact_id = k.contact_id AND x.{position} > k.n",
        table = list.table,
        position = list.position,
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&keys.instance_id)
        .bind(&keys.contact_id)
        .bind(&keys.count)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Replaces the recordings of changed calls, like [`write_legs`].
async fn write_recordings(
    conn: &mut PgConnection,
    default_instance: &str,
    calls: &[&CallRecord],
) -> Result<u64, sqlx::Error> {
    let keys = Keys::of(calls, default_instance, |r| r.recordings.len());
    let removed = remove_beyond(conn, Positions::RECORDINGS, &keys).await?;
    let mut x = RecordingColumns::default();
    for r in calls {
        for (i, rec) in r.recordings.iter().enumerate() {
            x.instance_id
                .push(r.instance_id.as_deref().unwrap_or(default_instance));
            x.contact_id.push(&r.contact_id);
            x.recording_no.push(position(i));
            x.contact_type.push(rec.contact_type.as_deref());
            x.agent_id.push(rec.agent_id.as_deref());
            x.agent_name.push(rec.agent_name.as_deref());
            x.calling_number.push(rec.calling_number.as_deref());
            x.called_number.push(rec.called_number.as_deref());
            x.channel.push(rec.channel.as_deref());
            x.file_name.push(rec.file_name.as_deref());
            x.file_description.push(rec.file_description.as_deref());
            x.file_path.push(rec.file_path.as_deref());
            x.start_time
                .push(rec.start_time_ms.and_then(DateTime::from_timestamp_millis));
            x.duration.push(rec.duration);
        }
    }
    if x.contact_id.is_empty() {
        return Ok(removed);
    }
    let upserted = sqlx::query(
        "INSERT INTO ccc.recordings AS x (instance_id, contact_id, recording_no, contact_type, agent_id,
             agent_name, calling_number, called_number, channel, file_name, file_description, file_path,
             start_time, duration)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::int2[], $4::text[], $5::text[], $6::text[],
             $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[],
             $14::int4[])
         ON CONFLICT (instance_id, contact_id, recording_no) DO UPDATE SET
             contact_type = EXCLUDED.contact_type, agent_id = EXCLUDED.agent_id,
             agent_name = EXCLUDED.agent_name, calling_number = EXCLUDED.calling_number,
             called_number = EXCLUDED.called_number, channel = EXCLUDED.channel,
             file_name = EXCLUDED.file_name, file_description = EXCLUDED.file_description,
             file_path = EXCLUDED.file_path, start_time = EXCLUDED.start_time, duration = EXCLUDED.duration
         WHERE (x.contact_type, x.agent_id, x.agent_name, x.calling_number, x.called_number, x.channel,
                x.file_name, x.file_description, x.file_path, x.start_time, x.duration)
             IS DISTINCT FROM
               (EXCLUDED.contact_type, EXCLUDED.agent_id, EXCLUDED.agent_name, EXCLUDED.calling_number,
                EXCLUDED.called_number, EXCLUDED.channel, EXCLUDED.file_name, EXCLUDED.file_description,
                EXCLUDED.file_path, EXCLUDED.start_time, EXCLUDED.duration)",
    )
    .bind(&x.instance_id)
    .bind(&x.contact_id)
    .bind(&x.recording_no)
    .bind(&x.contact_type)
    .bind(&x.agent_id)
    .bind(&x.agent_name)
    .bind(&x.calling_number)
    .bind(&x.called_number)
    .bind(&x.channel)
    .bind(&x.file_name)
    .bind(&x.file_description)
    .bind(&x.file_path)
    .bind(&x.start_time)
    .bind(&x.duration)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(removed + upserted)
}

/// Keeps records that cannot be stored as calls, once each, with the request that brought them.
pub(crate) async fn quarantine(
    conn: &mut PgConnection,
    source: &str,
    request_id: &str,
    invalid: &[InvalidRecord],
) -> Result<u64, sqlx::Error> {
    if invalid.is_empty() {
        return Ok(0);
    }
    let reasons: Vec<&str> = invalid.iter().map(|i| i.reason.as_str()).collect();
    let raws: Vec<&Value> = invalid.iter().map(|i| &i.raw).collect();
    let kept = sqlx::query(
        "INSERT INTO ccc.quarantined_records (source, request_id, reason, raw)
         SELECT $1, $2, k.reason, k.raw FROM UNNEST($3::text[], $4::jsonb[]) AS k(reason, raw)
         ON CONFLICT (raw_md5) DO NOTHING",
    )
    .bind(source)
    .bind(request_id)
    .bind(&reasons)
    .bind(&raws)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(kept)
}

/// A source's persisted position.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct SourceState {
    /// Everything before this instant is in the warehouse (up to the lookback's late arrivals).
    pub watermark: DateTime<Utc>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_reconciled_at: Option<DateTime<Utc>>,
}

/// Reads a source's state, if it has one.
pub(crate) async fn read_state(
    conn: &mut PgConnection,
    source: &str,
) -> Result<Option<SourceState>, sqlx::Error> {
    sqlx::query_as("SELECT watermark, last_success_at, last_reconciled_at FROM ccc.sync_state WHERE source = $1")
        .bind(source)
        .fetch_optional(&mut *conn)
        .await
}

/// Reads a source's state, creating it at `start` on first use, in one statement.
pub(crate) async fn load_state(
    conn: &mut PgConnection,
    source: &str,
    instance_id: &str,
    start: DateTime<Utc>,
) -> Result<SourceState, sqlx::Error> {
    // The SELECT does not see the row the INSERT adds (one snapshot), so exactly one branch answers, except
    // when another session created the row after our snapshot: then the plain read below finds it.
    let state: Option<SourceState> = sqlx::query_as(
            "WITH created AS (
                 INSERT INTO ccc.sync_state (source, instance_id, watermark) VALUES ($1, $2, $3)
                 ON CONFLICT (source) DO NOTHING
                 RETURNING watermark, last_success_at, last_reconciled_at)
             SELECT watermark, last_success_at, last_reconciled_at FROM created
             UNION ALL
             SELECT watermark, last_success_at, last_reconciled_at FROM ccc.sync_state WHERE source = $1",
        )
        .bind(source)
        .bind(instance_id)
        .bind(start)
        .fetch_optional(&mut *conn)
        .await?;
    match state {
        Some(state) => Ok(state),
        None => {
            sqlx::query_as(
                "SELECT watermark, last_success_at, last_reconciled_at FROM ccc.sync_state
                 WHERE source = $1",
            )
            .bind(source)
            .fetch_one(&mut *conn)
            .await
        }
    }
}

/// What kind of pass a window belongs to; recorded in `ccc.sync_runs.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Incremental,
    Reconcile,
    Backfill,
}

impl RunKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunKind::Incremental => "incremental",
            RunKind::Reconcile => "reconcile",
            RunKind::Backfill => "backfill",
        }
    }
}

/// The journal entry of one window.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub source: String,
    pub kind: RunKind,
    pub window: Window,
    pub pages: u32,
    pub records: u64,
    pub duplicates: u64,
    pub written: WriteStats,
    pub started_at: DateTime<Utc>,
}

/// Journals a committed window and moves the watermark to its end, in the caller's transaction.
///
/// The watermark only moves forward, and only when the window starts at or before it: a backfill of a
/// later span must not jump over a gap that was never synced.
pub(crate) async fn finish_window(
    conn: &mut PgConnection,
    run: &RunReport,
) -> Result<bool, sqlx::Error> {
    insert_run(conn, run, "succeeded", None).await?;
    let moved = sqlx::query(
        "UPDATE ccc.sync_state SET watermark = $3, last_success_at = now(), updated_at = now()
         WHERE source = $1 AND watermark >= $2 AND watermark < $3",
    )
    .bind(&run.source)
    .bind(run.window.start)
    .bind(run.window.end)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if moved == 0 {
        sqlx::query("UPDATE ccc.sync_state SET last_success_at = now(), updated_at = now() WHERE source = $1")
            .bind(&run.source)
            .execute(&mut *conn)
            .await?;
    }
    Ok(moved > 0)
}

/// Records that a reconciliation pass completed, so the next one is due `reconcile_every` later.
pub(crate) async fn mark_reconciled(
    conn: &mut PgConnection,
    source: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE ccc.sync_state SET last_reconciled_at = $2, updated_at = now() WHERE source = $1",
    )
    .bind(source)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What a failed window leaves in the journal, written after its transaction rolled back.
#[derive(Debug, Clone)]
pub(crate) struct Failure<'a> {
    pub code: &'a str,
    pub request_id: Option<&'a str>,
    pub message: &'a str,
}

/// Journals a failed window in its own short transaction (its data rolled back).
pub(crate) async fn record_failure(
    pool: &PgPool,
    run: &RunReport,
    failure: &Failure<'_>,
) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    insert_run(&mut conn, run, "failed", Some(failure)).await
}

/// Deletes a source's journal entries that finished before `before`, except its latest run (every entry
/// that finished last), which `ccc-sync status` shows with its error. One range of the
/// `(source, finished_at)` index, like the lookup of the latest.
pub async fn prune_runs(
    conn: &mut PgConnection,
    source: &str,
    before: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM ccc.sync_runs
         WHERE source = $1
           AND finished_at < $2
           AND finished_at < (SELECT max(finished_at) FROM ccc.sync_runs WHERE source = $1)",
    )
    .bind(source)
    .bind(before)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

async fn insert_run(
    conn: &mut PgConnection,
    run: &RunReport,
    status: &str,
    failure: Option<&Failure<'_>>,
) -> Result<(), sqlx::Error> {
    let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    sqlx::query(
        "INSERT INTO ccc.sync_runs (source, kind, window_start, window_end, status, pages, records,
             duplicates, quarantined, calls_written, legs_written, recordings_written, error_code,
             request_id, error, started_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, clock_timestamp())",
    )
    .bind(&run.source)
    .bind(run.kind.as_str())
    .bind(run.window.start)
    .bind(run.window.end)
    .bind(status)
    .bind(count(u64::from(run.pages)))
    .bind(count(run.records))
    .bind(count(run.duplicates))
    .bind(count(run.written.quarantined))
    .bind(count(run.written.calls))
    .bind(count(run.written.legs))
    .bind(count(run.written.recordings))
    .bind(failure.map(|f| f.code))
    .bind(failure.and_then(|f| f.request_id))
    .bind(failure.map(|f| f.message))
    .bind(run.started_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn position(index: usize) -> i16 {
    i16::try_from(index + 1).unwrap_or(i16::MAX)
}

/// The (instance, contact, list length) of each changed call, for removing positions beyond the length.
struct Keys<'a> {
    instance_id: Vec<&'a str>,
    contact_id: Vec<&'a str>,
    count: Vec<i32>,
}

impl<'a> Keys<'a> {
    fn of(
        calls: &[&'a CallRecord],
        default_instance: &'a str,
        len: impl Fn(&CallRecord) -> usize,
    ) -> Self {
        Keys {
            instance_id: calls
                .iter()
                .map(|r| r.instance_id.as_deref().unwrap_or(default_instance))
                .collect(),
            contact_id: calls.iter().map(|r| r.contact_id.as_str()).collect(),
            count: calls
                .iter()
                .map(|r| i32::try_from(len(r)).unwrap_or(i32::MAX))
                .collect(),
        }
    }
}

#[derive(Default)]
struct CallColumns<'a> {
    instance_id: Vec<&'a str>,
    contact_id: Vec<&'a str>,
    start_time: Vec<DateTime<Utc>>,
    duration: Vec<Option<i32>>,
    contact_type: Vec<Option<&'a str>>,
    contact_disposition: Vec<Option<&'a str>>,
    calling_number: Vec<Option<&'a str>>,
    called_number: Vec<Option<&'a str>>,
    agent_names: Vec<Option<&'a str>>,
    skill_group_names: Vec<Option<&'a str>>,
    satisfaction: Vec<Option<i32>>,
    satisfaction_desc: Vec<Option<&'a str>>,
    feedback: Vec<Option<&'a str>>,
    extra_attr: Vec<Option<&'a str>>,
    raw: Vec<&'a Value>,
    leg_count: Vec<i32>,
    queue_time: Vec<Option<i32>>,
    ring_time: Vec<Option<i32>>,
    talk_time: Vec<Option<i32>>,
    hold_time: Vec<Option<i32>>,
    work_time: Vec<Option<i32>>,
}

impl<'a> CallColumns<'a> {
    fn push(&mut self, r: &'a CallRecord, default_instance: &'a str) {
        self.instance_id
            .push(r.instance_id.as_deref().unwrap_or(default_instance));
        self.contact_id.push(&r.contact_id);
        self.start_time
            .push(DateTime::from_timestamp_millis(r.start_time_ms).unwrap_or_default());
        self.duration.push(r.duration);
        self.contact_type.push(r.contact_type.as_deref());
        self.contact_disposition
            .push(r.contact_disposition.as_deref());
        self.calling_number.push(r.calling_number.as_deref());
        self.called_number.push(r.called_number.as_deref());
        self.agent_names.push(r.agent_names.as_deref());
        self.skill_group_names.push(r.skill_group_names.as_deref());
        self.satisfaction.push(r.satisfaction);
        self.satisfaction_desc.push(r.satisfaction_desc.as_deref());
        self.feedback.push(r.feedback.as_deref());
        self.extra_attr.push(r.extra_attr.as_deref());
        self.raw.push(&r.raw);
        self.leg_count
            .push(i32::try_from(r.agents.len()).unwrap_or(i32::MAX));
        self.queue_time.push(leg_total(r, |l| l.queue_time));
        self.ring_time.push(leg_total(r, |l| l.ring_time));
        self.talk_time.push(leg_total(r, |l| l.talk_time));
        self.hold_time.push(leg_total(r, |l| l.hold_time));
        self.work_time.push(leg_total(r, |l| l.work_time));
    }
}

/// A call's total over its legs as the leg-totals trigger defines it: a missing leg value counts as 0, and a
/// call without legs has no total.
fn leg_total(r: &CallRecord, field: impl Fn(&crate::ccc::AgentLeg) -> Option<i32>) -> Option<i32> {
    if r.agents.is_empty() {
        return None;
    }
    let sum: i64 = r
        .agents
        .iter()
        .map(|l| i64::from(field(l).unwrap_or(0)))
        .sum();
    Some(i32::try_from(sum).unwrap_or(i32::MAX))
}

/// Opens a window's transaction. The writer computes each call's leg totals and each call's and leg's
/// business day itself, so the triggers that would compute them for other writers (a statement trigger
/// that writes each call row twice, and a PL/pgSQL call per row) are told to stand aside.
pub async fn begin(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT set_config('ccc.leg_totals_from_writer', 'on', true),
                set_config('ccc.dates_from_writer', 'on', true)",
    )
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

#[derive(Default)]
struct LegColumns<'a> {
    instance_id: Vec<&'a str>,
    contact_id: Vec<&'a str>,
    leg_no: Vec<i16>,
    agent_id: Vec<Option<&'a str>>,
    agent_name: Vec<Option<&'a str>>,
    skill_group_name: Vec<Option<&'a str>>,
    start_time: Vec<Option<DateTime<Utc>>>,
    queue_time: Vec<Option<i32>>,
    ring_time: Vec<Option<i32>>,
    talk_time: Vec<Option<i32>>,
    hold_time: Vec<Option<i32>>,
    work_time: Vec<Option<i32>>,
    satisfaction: Vec<Option<&'a str>>,
    feedback: Vec<Option<&'a str>>,
    /// The start of the leg's call, which decides the leg's business day.
    call_start_time: Vec<DateTime<Utc>>,
}

#[derive(Default)]
struct RecordingColumns<'a> {
    instance_id: Vec<&'a str>,
    contact_id: Vec<&'a str>,
    recording_no: Vec<i16>,
    contact_type: Vec<Option<&'a str>>,
    agent_id: Vec<Option<&'a str>>,
    agent_name: Vec<Option<&'a str>>,
    calling_number: Vec<Option<&'a str>>,
    called_number: Vec<Option<&'a str>>,
    channel: Vec<Option<&'a str>>,
    file_name: Vec<Option<&'a str>>,
    file_description: Vec<Option<&'a str>>,
    file_path: Vec<Option<&'a str>>,
    start_time: Vec<Option<DateTime<Utc>>>,
    duration: Vec<Option<i32>>,
}

/// Writes the configured business time zone to `ccc.settings` (a change re-dates calls and legs).
/// `Ok(false)` when PostgreSQL does not know the zone.
pub(crate) async fn set_business_time_zone(pool: &PgPool, zone: &str) -> Result<bool, sqlx::Error> {
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

/// A table the writer fills: its key and the other columns it writes (defaults fill the rest).
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub key: &'static [&'static str],
    pub columns: &'static [&'static str],
}

impl Table {
    /// The key and the written columns, comma-separated, for a statement's column list.
    pub(crate) fn column_list(&self) -> String {
        [self.key, self.columns].concat().join(", ")
    }
}

/// The three call tables, parents first, with exactly the columns [`write_calls`] writes.
pub const TABLES: [Table; 3] = [
    Table {
        name: "calls",
        key: &["instance_id", "contact_id"],
        columns: &[
            "start_time",
            "duration",
            "contact_type",
            "contact_disposition",
            "calling_number",
            "called_number",
            "agent_names",
            "skill_group_names",
            "satisfaction",
            "satisfaction_desc",
            "feedback",
            "extra_attr",
            "raw",
            "leg_count",
            "queue_time",
            "ring_time",
            "talk_time",
            "hold_time",
            "work_time",
            "business_date",
        ],
    },
    Table {
        name: "agent_legs",
        key: &["instance_id", "contact_id", "leg_no"],
        columns: &[
            "agent_id",
            "agent_name",
            "skill_group_name",
            "start_time",
            "queue_time",
            "ring_time",
            "talk_time",
            "hold_time",
            "work_time",
            "satisfaction",
            "feedback",
            "business_date",
        ],
    },
    Table {
        name: "recordings",
        key: &["instance_id", "contact_id", "recording_no"],
        columns: &[
            "contact_type",
            "agent_id",
            "agent_name",
            "calling_number",
            "called_number",
            "channel",
            "file_name",
            "file_description",
            "file_path",
            "start_time",
            "duration",
        ],
    },
];

/// Loads COPY text (as [`crate::reads::copy_out`] writes it) into `table` the way a hand-written bulk
/// load would, for the bench's reference: a temporary staging table, then one `INSERT … ON CONFLICT` with
/// the writer's unchanged-row guard. Run it inside a transaction from [`begin`].
pub async fn staged_load(
    conn: &mut PgConnection,
    table: &Table,
    rows: impl tokio::io::AsyncRead + Unpin,
) -> Result<(), sqlx::Error> {
    let (name, list) = (table.name, table.column_list());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TEMP TABLE staged_{name} ON COMMIT DROP AS SELECT {list} FROM ccc.{name} WITH NO DATA"
    )))
    .execute(&mut *conn)
    .await?;
    let mut copy = conn
        .copy_in_raw(&format!("COPY staged_{name} ({list}) FROM STDIN"))
        .await?;
    copy.read_from(rows).await?;
    copy.finish().await?;
    let each = |template: &str| {
        table
            .columns
            .iter()
            .map(|c| template.replace('#', c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO ccc.{name} AS t ({list}) SELECT {list} FROM staged_{name}
         ON CONFLICT ({}) DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})",
        table.key.join(", "),
        each("# = EXCLUDED.#"),
        each("t.#"),
        each("EXCLUDED.#"),
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes a source's watermark and journal and every call of `instance_id` (legs and recordings go with
/// their calls), so that `ccc-sync demo` starts from nothing each time.
pub async fn forget_source(
    pool: &PgPool,
    source: &str,
    instance_id: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM ccc.calls WHERE instance_id = $1")
        .bind(instance_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM ccc.sync_runs WHERE source = $1")
        .bind(source)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM ccc.sync_state WHERE source = $1")
        .bind(source)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
