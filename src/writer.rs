//! Every write to the warehouse: a window's calls staged by COPY and upserted set by set, the watermark, the
//! `sync_runs` journal and its pruning, and the table list a bulk load shares with them. Reads for people
//! live in [`crate::reads`].
//!
//! Query functions take `&mut PgConnection` (a transaction derefs to one); the caller opens one transaction
//! per window and commits once, after [`finish_window`] has moved the watermark in that same transaction.
//! A call's `raw` JSON holds its legs and recordings too, so a call whose `raw` did not change is skipped
//! whole: re-syncing the lookback rewrites nothing.

mod copy_text;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::ccc::{AgentLeg, Api, CallRecord, InvalidRecord, Recording};
use crate::window::Window;

use copy_text::CopyText;

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

/// Upserts calls (deduplicated by the caller: one record per key) with their legs and recordings, in one
/// go: a [`Stage`] of them, applied.
///
/// `default_instance` fills `InstanceId` where a record lacks it.
pub async fn write_calls(
    conn: &mut PgConnection,
    default_instance: &str,
    records: &[CallRecord],
) -> Result<WriteStats, sqlx::Error> {
    let mut stage = Stage::new(Api::Agent, false);
    stage.add(conn, default_instance, records).await?;
    stage.apply(conn).await
}

/// A window's records on their way in, the way a hand-written bulk load does it: COPY'd batch after batch
/// into temporary tables of the transaction, then written with one set-based statement per table. A call
/// whose `raw` did not change is skipped whole; its legs and recordings are then not touched either.
///
/// The records of one stage must be unique per `(InstanceId, ContactId)` (the fetcher deduplicates a
/// window), as one `INSERT … ON CONFLICT` cannot change a row twice.
#[derive(Debug)]
pub(crate) struct Stage {
    created: bool,
    /// The API the records came from, written with each call.
    api: Api,
    /// Whether each call written is left for its details to be fetched ([`crate::scheduler`]'s details).
    details_pending: bool,
}

impl Stage {
    pub(crate) fn new(api: Api, details_pending: bool) -> Stage {
        Stage {
            created: false,
            api,
            details_pending,
        }
    }

    /// COPYs `records` into the stage, creating its tables on first use.
    pub(crate) async fn add(
        &mut self,
        conn: &mut PgConnection,
        default_instance: &str,
        records: &[CallRecord],
    ) -> Result<(), sqlx::Error> {
        if records.is_empty() {
            return Ok(());
        }
        if !self.created {
            sqlx::raw_sql(CREATE_STAGE).execute(&mut *conn).await?;
            self.created = true;
        }
        let (mut calls, mut legs, mut recordings) = Default::default();
        for r in records {
            let rows = (&mut calls, &mut legs, &mut recordings);
            stage_call(rows, r, default_instance, self.api, self.details_pending);
        }
        for (table, rows) in [
            ("staged_calls", calls),
            ("staged_agent_legs", legs),
            ("staged_recordings", recordings),
        ] {
            copy_into(conn, table, &rows).await?;
        }
        Ok(())
    }

    /// Writes what was staged into the warehouse and drops the stage's tables; what it changed.
    pub(crate) async fn apply(self, conn: &mut PgConnection) -> Result<WriteStats, sqlx::Error> {
        if !self.created {
            return Ok(WriteStats::default());
        }
        let mut run = async |sql: &'static str| -> Result<u64, sqlx::Error> {
            Ok(sqlx::query(sql).execute(&mut *conn).await?.rows_affected())
        };
        let stats = WriteStats {
            calls: run(&UPSERT_CALLS).await?,
            legs: run(REMOVE_LEGS).await? + run(&UPSERT_LEGS).await?,
            recordings: run(REMOVE_RECORDINGS).await? + run(&UPSERT_RECORDINGS).await?,
            quarantined: 0,
        };
        run(DROP_STAGE).await?;
        Ok(stats)
    }
}

/// The stage's tables, dropped at the end of the transaction if [`Stage::apply`] has not dropped them.
/// `changed_calls` receives the calls the upsert wrote, with the day it gave them and whether they are new.
const CREATE_STAGE: &str = "
    CREATE TEMP TABLE staged_calls (
        instance_id text NOT NULL, contact_id text NOT NULL, start_time timestamptz NOT NULL, duration int4,
        contact_type text, contact_disposition text, calling_number text, called_number text,
        agent_names text, skill_group_names text, satisfaction int4, satisfaction_desc text, feedback text,
        extra_attr text, raw jsonb NOT NULL, leg_count int4 NOT NULL, queue_time int4, ring_time int4,
        talk_time int4, hold_time int4, work_time int4, recording_count int4 NOT NULL, api text NOT NULL,
        established_time timestamptz, release_time timestamptz, release_initiator text, release_reason text,
        early_media_state text, caller_location text, callee_location text, broker text, agent_ids text,
        skill_group_ids text, dialing_time int4, ivr_time int4, wait_time int4, recording_duration int4,
        recording_ready bool, satisfaction_survey_offered bool, satisfaction_survey_channel text,
        details_pending bool NOT NULL
    ) ON COMMIT DROP;
    CREATE TEMP TABLE staged_agent_legs (
        instance_id text NOT NULL, contact_id text NOT NULL, leg_no int2 NOT NULL, agent_id text,
        agent_name text, skill_group_name text, start_time timestamptz, queue_time int4, ring_time int4,
        talk_time int4, hold_time int4, work_time int4, satisfaction text, feedback text
    ) ON COMMIT DROP;
    CREATE TEMP TABLE staged_recordings (
        instance_id text NOT NULL, contact_id text NOT NULL, recording_no int2 NOT NULL, contact_type text,
        agent_id text, agent_name text, calling_number text, called_number text, channel text,
        file_name text, file_description text, file_path text, start_time timestamptz, duration int4
    ) ON COMMIT DROP;
    CREATE TEMP TABLE changed_calls (
        instance_id text NOT NULL, contact_id text NOT NULL, business_date date NOT NULL,
        inserted bool NOT NULL
    ) ON COMMIT DROP;";

const DROP_STAGE: &str =
    "DROP TABLE staged_calls, staged_agent_legs, staged_recordings, changed_calls";

/// Inserts new calls and rewrites those whose `raw` changed, dated in the business time zone; the calls it
/// wrote go to `changed_calls` (`xmax = 0` tells a row this statement inserted from one it updated). A call
/// a whole-instance API wrote is not rewritten from an agent's view of it.
static UPSERT_CALLS: LazyLock<String> = LazyLock::new(|| {
    let calls = table("calls");
    let staged = calls
        .columns
        .iter()
        .map(|c| match *c {
            "business_date" => {
                "(s.start_time AT TIME ZONE ccc.business_time_zone())::date".to_owned()
            }
            c => format!("s.{c}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let set = calls
        .columns
        .iter()
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH written AS (
            INSERT INTO ccc.calls AS c ({list})
            SELECT s.instance_id, s.contact_id, {staged} FROM staged_calls AS s
            ON CONFLICT (instance_id, contact_id) DO UPDATE SET {set}, last_changed_at = now()
            WHERE c.raw IS DISTINCT FROM EXCLUDED.raw AND (EXCLUDED.api <> 'agent' OR c.api = 'agent')
            RETURNING c.instance_id, c.contact_id, c.business_date, c.xmax = 0)
        INSERT INTO changed_calls SELECT * FROM written",
        list = calls.column_list(),
    )
});

/// Removes the legs past each rewritten call's new count: a call that had 3 legs and now has 2 has 2. A new
/// call has none to remove.
const REMOVE_LEGS: &str = "
    DELETE FROM ccc.agent_legs AS x
    USING changed_calls AS k JOIN staged_calls AS s USING (instance_id, contact_id)
    WHERE NOT k.inserted AND x.instance_id = k.instance_id AND x.contact_id = k.contact_id
      AND x.leg_no > s.leg_count";

/// Writes the legs of the calls written, on their call's day; an unchanged leg is left as it is.
static UPSERT_LEGS: LazyLock<String> = LazyLock::new(|| upsert_changed(table("agent_legs")));
/// Removes the recordings past each rewritten call's new count, like [`REMOVE_LEGS`].
const REMOVE_RECORDINGS: &str = "
    DELETE FROM ccc.recordings AS x
    USING changed_calls AS k JOIN staged_calls AS s USING (instance_id, contact_id)
    WHERE NOT k.inserted AND x.instance_id = k.instance_id AND x.contact_id = k.contact_id
      AND x.recording_no > s.recording_count";

/// Writes the recordings of the calls written, like [`UPSERT_LEGS`].
static UPSERT_RECORDINGS: LazyLock<String> = LazyLock::new(|| upsert_changed(table("recordings")));

/// Upserts the staged rows of `table` that belong to a call in `changed_calls`, a row's `business_date`
/// being its call's.
fn upsert_changed(table: &Table) -> String {
    let select = [table.key, table.columns]
        .concat()
        .iter()
        .map(|c| match *c {
            "business_date" => "k.business_date".to_owned(),
            c => format!("u.{c}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO ccc.{name} AS t ({list}) SELECT {select}
         FROM staged_{name} AS u JOIN changed_calls AS k USING (instance_id, contact_id)
         {upsert}",
        name = table.name,
        list = table.column_list(),
        upsert = table.on_conflict_update(),
    )
}

/// One record as rows of the stage's three tables, in their columns' order. A record with call-level times
/// (2.0) gives them to the call; otherwise the call's times are its legs' totals.
fn stage_call(
    (calls, legs, recordings): (&mut CopyText, &mut CopyText, &mut CopyText),
    r: &CallRecord,
    default_instance: &str,
    api: Api,
    details_pending: bool,
) {
    let instance_id = Some(r.instance_id.as_deref().unwrap_or(default_instance));
    let contact_id = Some(r.contact_id.as_str());
    calls
        .text(instance_id)
        .text(contact_id)
        .time(Some(millis(Some(r.start_time_ms)).unwrap_or_default()))
        .int(r.duration)
        .text(r.contact_type.as_deref())
        .text(r.contact_disposition.as_deref())
        .text(r.calling_number.as_deref())
        .text(r.called_number.as_deref())
        .text(r.agent_names.as_deref())
        .text(r.skill_group_names.as_deref())
        .int(r.satisfaction)
        .text(r.satisfaction_desc.as_deref())
        .text(r.feedback.as_deref())
        .text(r.extra_attr.as_deref())
        .json(&r.raw)
        .int(Some(count(r.agents.len())));
    match r.call_times {
        Some(t) => calls
            .int(t.queue_time)
            .int(t.ring_time)
            .int(t.talk_time)
            .int(t.hold_time),
        None => calls
            .int(legs_total(&r.agents, |l| l.queue_time))
            .int(legs_total(&r.agents, |l| l.ring_time))
            .int(legs_total(&r.agents, |l| l.talk_time))
            .int(legs_total(&r.agents, |l| l.hold_time)),
    }
    .int(legs_total(&r.agents, |l| l.work_time))
    .int(Some(count(r.recordings.len())))
    .text(Some(api.name()))
    .time(millis(r.established_time_ms))
    .time(millis(r.release_time_ms))
    .text(r.release_initiator.as_deref())
    .text(r.release_reason.as_deref())
    .text(r.early_media_state.as_deref())
    .text(r.caller_location.as_deref())
    .text(r.callee_location.as_deref())
    .text(r.broker.as_deref())
    .text(r.agent_ids.as_deref())
    .text(r.skill_group_ids.as_deref())
    .int(r.dialing_time)
    .int(r.ivr_time)
    .int(r.wait_time)
    .int(r.recording_duration)
    .flag(r.recording_ready)
    .flag(r.satisfaction_survey_offered)
    .text(r.satisfaction_survey_channel.as_deref())
    .flag(Some(details_pending));
    calls.end_row();
    stage_legs(legs, instance_id, contact_id, &r.agents);
    stage_recordings(recordings, instance_id, contact_id, &r.recordings);
}

/// A call's legs as rows of the stage's `staged_agent_legs`, numbered from 1 in their order.
fn stage_legs(
    legs: &mut CopyText,
    instance_id: Option<&str>,
    contact_id: Option<&str>,
    agents: &[AgentLeg],
) {
    for (i, leg) in agents.iter().enumerate() {
        legs.text(instance_id)
            .text(contact_id)
            .int(Some(position(i)))
            .text(leg.agent_id.as_deref())
            .text(leg.agent_name.as_deref())
            .text(leg.skill_group_name.as_deref())
            .time(millis(leg.start_time_ms))
            .int(leg.queue_time)
            .int(leg.ring_time)
            .int(leg.talk_time)
            .int(leg.hold_time)
            .int(leg.work_time)
            .text(leg.satisfaction.as_deref())
            .text(leg.feedback.as_deref());
        legs.end_row();
    }
}

/// A call's recordings as rows of the stage's `staged_recordings`, numbered from 1 in their order.
fn stage_recordings(
    rows: &mut CopyText,
    instance_id: Option<&str>,
    contact_id: Option<&str>,
    recordings: &[Recording],
) {
    for (i, rec) in recordings.iter().enumerate() {
        rows.text(instance_id)
            .text(contact_id)
            .int(Some(position(i)))
            .text(rec.contact_type.as_deref())
            .text(rec.agent_id.as_deref())
            .text(rec.agent_name.as_deref())
            .text(rec.calling_number.as_deref())
            .text(rec.called_number.as_deref())
            .text(rec.channel.as_deref())
            .text(rec.file_name.as_deref())
            .text(rec.file_description.as_deref())
            .text(rec.file_path.as_deref())
            .time(millis(rec.start_time_ms))
            .int(rec.duration);
        rows.end_row();
    }
}

/// An epoch-millisecond time the service sent, if it is one.
fn millis(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

/// A call a ccc2 source has yet to fetch the details of, as it was when read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct PendingCall {
    pub contact_id: String,
    /// The details are written only if the call has not changed since.
    pub last_changed_at: DateTime<Utc>,
    pub skill_group_ids: Option<String>,
    pub skill_group_names: Option<String>,
}

/// Up to `limit` calls of `instance_id` whose details are pending, oldest first.
pub(crate) async fn pending_details(
    conn: &mut PgConnection,
    instance_id: &str,
    limit: i64,
) -> Result<Vec<PendingCall>, sqlx::Error> {
    sqlx::query_as(
        "SELECT contact_id, last_changed_at, skill_group_ids, skill_group_names FROM ccc.calls
         WHERE instance_id = $1 AND details_pending ORDER BY start_time, contact_id LIMIT $2",
    )
    .bind(instance_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Fetched details of one pending call.
#[derive(Debug, Clone)]
pub(crate) struct CallDetails {
    pub call: PendingCall,
    pub legs: Vec<AgentLeg>,
    pub recordings: Vec<Recording>,
}

/// Replaces the legs and recordings of the calls whose details were fetched and marks them done, in the
/// caller's transaction (from [`begin`]), through the stage a window uses: the calls claimed go to
/// `changed_calls`, their legs and recordings are COPY'd and upserted by the same statements. A call that
/// changed since it was read keeps its details pending and its placeholder legs: the next round fetches them
/// again. What it changed.
pub(crate) async fn write_details(
    conn: &mut PgConnection,
    instance_id: &str,
    details: &[CallDetails],
) -> Result<WriteStats, sqlx::Error> {
    sqlx::raw_sql(CREATE_STAGE).execute(&mut *conn).await?;
    let calls = details
        .iter()
        .map(|d| {
            serde_json::json!({
                "contact_id": d.call.contact_id, "last_changed_at": d.call.last_changed_at,
                "leg_count": d.legs.len(), "work_time": legs_total(&d.legs, |l| l.work_time),
            })
        })
        .collect::<Vec<_>>();
    let claimed = sqlx::query(
        "WITH claimed AS (
             UPDATE ccc.calls AS c SET details_pending = false, leg_count = d.leg_count,
                 work_time = d.work_time
             FROM jsonb_to_recordset($2) AS d(contact_id text, last_changed_at timestamptz,
                 leg_count int4, work_time int4)
             WHERE c.instance_id = $1 AND c.contact_id = d.contact_id AND c.details_pending
               AND c.last_changed_at = d.last_changed_at
             RETURNING c.instance_id, c.contact_id, c.business_date, false)
         INSERT INTO changed_calls SELECT * FROM claimed",
    )
    .bind(instance_id)
    .bind(Value::Array(calls))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let (mut legs, mut recordings) = (CopyText::default(), CopyText::default());
    for d in details {
        let contact_id = Some(d.call.contact_id.as_str());
        stage_legs(&mut legs, Some(instance_id), contact_id, &d.legs);
        stage_recordings(
            &mut recordings,
            Some(instance_id),
            contact_id,
            &d.recordings,
        );
    }
    copy_into(conn, "staged_agent_legs", &legs).await?;
    copy_into(conn, "staged_recordings", &recordings).await?;
    let mut run = async |sql: &'static str| -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(sql).execute(&mut *conn).await?.rows_affected())
    };
    let stats = WriteStats {
        calls: claimed,
        legs: run(REMOVE_CLAIMED_LEGS)
            .await?
            .max(run(&UPSERT_LEGS).await?),
        recordings: run(REMOVE_CLAIMED_RECORDINGS)
            .await?
            .max(run(&UPSERT_RECORDINGS).await?),
        quarantined: 0,
    };
    run(DROP_STAGE).await?;
    Ok(stats)
}

/// Removes every leg of the calls whose details were claimed, before their fetched legs are written.
const REMOVE_CLAIMED_LEGS: &str = "
    DELETE FROM ccc.agent_legs AS x USING changed_calls AS k
    WHERE x.instance_id = k.instance_id AND x.contact_id = k.contact_id";

/// Removes every recording of the calls whose details were claimed, like [`REMOVE_CLAIMED_LEGS`].
const REMOVE_CLAIMED_RECORDINGS: &str = "
    DELETE FROM ccc.recordings AS x USING changed_calls AS k
    WHERE x.instance_id = k.instance_id AND x.contact_id = k.contact_id";

/// COPYs `rows` into the stage's `table`, if there are any.
async fn copy_into(
    conn: &mut PgConnection,
    table: &str,
    rows: &CopyText,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} FROM STDIN"))
        .await?;
    copy.send(rows.as_bytes()).await?;
    copy.finish().await?;
    Ok(())
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

fn count(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// A total over legs as the leg-totals trigger defines it: a missing leg value counts as 0, and no legs have no
/// total.
fn legs_total(legs: &[AgentLeg], field: impl Fn(&AgentLeg) -> Option<i32>) -> Option<i32> {
    if legs.is_empty() {
        return None;
    }
    let sum: i64 = legs.iter().map(|l| i64::from(field(l).unwrap_or(0))).sum();
    Some(i32::try_from(sum).unwrap_or(i32::MAX))
}

/// Opens a window's transaction. The writer computes each call's leg totals and each call's and leg's
/// business day itself, and writes legs and recordings only after their call, so the triggers that would
/// compute or check these for other writers (a statement trigger that writes each call row twice, a PL/pgSQL
/// call per row, a lookup of each leg's call) are told to stand aside.
pub async fn begin(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT set_config('ccc.leg_totals_from_writer', 'on', true),
                set_config('ccc.dates_from_writer', 'on', true),
                set_config('ccc.children_from_writer', 'on', true)",
    )
    .execute(&mut *tx)
    .await?;
    Ok(tx)
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

    /// `ON CONFLICT` on the key, updating every written column of the row aliased `t`, unless none differs:
    /// the unchanged-row guard, so that writing the same row again rewrites nothing.
    fn on_conflict_update(&self) -> String {
        let each = |template: &str| {
            self.columns
                .iter()
                .map(|c| template.replace('#', c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "ON CONFLICT ({}) DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})",
            self.key.join(", "),
            each("# = EXCLUDED.#"),
            each("t.#"),
            each("EXCLUDED.#"),
        )
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
            "api",
            "established_time",
            "release_time",
            "release_initiator",
            "release_reason",
            "early_media_state",
            "caller_location",
            "callee_location",
            "broker",
            "agent_ids",
            "skill_group_ids",
            "dialing_time",
            "ivr_time",
            "wait_time",
            "recording_duration",
            "recording_ready",
            "satisfaction_survey_offered",
            "satisfaction_survey_channel",
            "details_pending",
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

/// Creates `schema` holding a plain copy of each of [`TABLES`]: the same columns, defaults, keys, checks and
/// indexes (those the BI views read included), but no triggers and no foreign keys. The bench's baseline: the
/// tables a hand-written loader would fill.
pub async fn create_plain_tables(conn: &mut PgConnection, schema: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut *conn)
        .await?;
    for table in &TABLES {
        let name = table.name;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {schema}.{name} (LIKE ccc.{name} INCLUDING ALL)"
        )))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The entry of [`TABLES`] named `name`.
fn table(name: &str) -> &'static Table {
    TABLES
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| unreachable!("TABLES lists {name}"))
}

/// Loads COPY text (as [`crate::reads::copy_out`] writes it) into `schema`'s `table` the way a hand-written
/// bulk load would, for the bench's reference: a temporary staging table, then one `INSERT … ON CONFLICT`
/// with the writer's unchanged-row guard. Run it inside a transaction from [`begin`]; the rows it wrote.
pub async fn staged_load(
    conn: &mut PgConnection,
    schema: &str,
    table: &Table,
    rows: impl tokio::io::AsyncRead + Unpin,
) -> Result<u64, sqlx::Error> {
    let (name, list) = (table.name, table.column_list());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TEMP TABLE staged_{name} ON COMMIT DROP AS SELECT {list} FROM {schema}.{name} WITH NO DATA"
    )))
    .execute(&mut *conn)
    .await?;
    let mut copy = conn
        .copy_in_raw(&format!("COPY staged_{name} ({list}) FROM STDIN"))
        .await?;
    copy.read_from(rows).await?;
    copy.finish().await?;
    let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {schema}.{name} AS t ({list}) SELECT {list} FROM staged_{name} {}",
        table.on_conflict_update(),
    )))
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected())
}

/// Loads COPY text straight into `schema`'s (empty) `table`, with no staging and no conflict handling: the
/// floor of a bulk load, for the bench. The rows it wrote.
pub async fn raw_load(
    conn: &mut PgConnection,
    schema: &str,
    table: &Table,
    rows: impl tokio::io::AsyncRead + Unpin,
) -> Result<u64, sqlx::Error> {
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY {schema}.{} ({}) FROM STDIN",
            table.name,
            table.column_list()
        ))
        .await?;
    copy.read_from(rows).await?;
    copy.finish().await
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
