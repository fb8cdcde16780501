//! The spine end to end: the scripted CCC simulator over HTTP → fetcher → writer → PostgreSQL.

use std::sync::LazyLock;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use ccc_simulator::{AccessKey, PageFault, SimulatorHandle};
use ccc_sync::scheduler::{self, Source, SyncError};

use crate::support::TestDb;
use crate::support::ccc::{self, FAULT_REQUEST_ID};
use crate::support::config::{Config, SourceConfig, UNUSED_DATABASE};

static KEY: LazyLock<AccessKey> = LazyLock::new(|| ccc::key("LTAI-test", "s3cret-test", None));

fn now() -> DateTime<Utc> {
    ccc_sync::window::to_ms(Utc::now())
}

/// The spine's source on the simulator: six hours back, a two-hour lookback, 12 h chunks, no rate limit
/// to speak of.
fn spine(sim: &SimulatorHandle, name: &str, key: &AccessKey) -> SourceConfig {
    SourceConfig::new(name, ccc::INSTANCE)
        .endpoint(&sim.endpoint())
        .key(key)
        .start_from("6h")
        .lookback("2h")
        .max_requests_per_second(1000.0)
        .retry_for("20s")
        .chunk("12h")
}

/// [`spine`], built through the real config loader.
fn source(sim: &SimulatorHandle, name: &str, key: &AccessKey) -> Source {
    Config::new(UNUSED_DATABASE)
        .source(spine(sim, name, key))
        .load_source()
}

/// `n` calls a minute apart in the last hours, with 0–3 legs and 0–2 recordings each.
fn records(n: usize, now: DateTime<Utc>) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let legs = ["1001@ccctest", "1002@ccctest", "1003@ccctest"];
            let start = (now - TimeDelta::minutes(i as i64 + 1)).timestamp_millis();
            ccc::record(&format!("20297{i:05}"), start, &legs[..i % 4], i % 3)
        })
        .collect()
}

/// Page 3 of every window answers `InvalidParameter`, an error no retry mends.
fn fail_every_page_3(sim: &SimulatorHandle) {
    sim.fail_page(PageFault {
        page: 3,
        times: u32::MAX,
        status: 400,
        body: ccc::error_body("InvalidParameter", "The specified parameter is invalid."),
    });
}

async fn count(db: &TestDb, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM ccc.{table}"
    )))
    .fetch_one(&db.pool)
    .await
    .expect("count")
}

async fn watermark(db: &TestDb, source: &str) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT watermark FROM ccc.sync_state WHERE source = $1")
        .bind(source)
        .fetch_one(&db.pool)
        .await
        .expect("state")
}

/// Every row's physical version: a row that was rewritten gets a new one.
/// Calls whose stored leg totals differ from what their legs add up to (the trigger's definition).
async fn calls_with_wrong_leg_totals(db: &TestDb) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM ccc.calls c
         CROSS JOIN LATERAL (
             SELECT count(l.leg_no)::int AS n,
                    sum(coalesce(l.queue_time, 0)) FILTER (WHERE l.leg_no IS NOT NULL)::int AS q,
                    sum(coalesce(l.ring_time, 0)) FILTER (WHERE l.leg_no IS NOT NULL)::int AS r,
                    sum(coalesce(l.talk_time, 0)) FILTER (WHERE l.leg_no IS NOT NULL)::int AS t,
                    sum(coalesce(l.hold_time, 0)) FILTER (WHERE l.leg_no IS NOT NULL)::int AS h,
                    sum(coalesce(l.work_time, 0)) FILTER (WHERE l.leg_no IS NOT NULL)::int AS w
             FROM ccc.agent_legs l WHERE l.instance_id = c.instance_id AND l.contact_id = c.contact_id) s
         WHERE (c.leg_count, c.queue_time, c.ring_time, c.talk_time, c.hold_time, c.work_time)
               IS DISTINCT FROM (s.n, s.q, s.r, s.t, s.h, s.w)",
    )
    .fetch_one(&db.pool)
    .await
    .expect("totals")
}

async fn row_versions(db: &TestDb) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT 'c' || contact_id, xmin::text FROM ccc.calls
         UNION ALL SELECT 'l' || contact_id || '/' || leg_no, xmin::text FROM ccc.agent_legs
         UNION ALL SELECT 'r' || contact_id || '/' || recording_no, xmin::text FROM ccc.recordings
         ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("versions")
}

fn legs_in(records: &[Value]) -> i64 {
    records
        .iter()
        .map(|r| {
            r["Agents"]["CallDetailAgent"]
                .as_array()
                .map_or(0, Vec::len) as i64
        })
        .sum()
}

fn recordings_in(records: &[Value]) -> i64 {
    records
        .iter()
        .map(|r| r["Recordings"]["Recording"].as_array().map_or(0, Vec::len) as i64)
        .sum()
}

#[tokio::test]
async fn a_multi_page_window_lands_exactly_and_a_second_pass_rewrites_nothing() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let t0 = now();
    let data = records(250, t0);
    sim.set_records(data.clone());
    let src = source(&sim, "agent-1", &KEY);

    let pass = scheduler::sync_source(&db.pool, &src, t0, &CancellationToken::new())
        .await
        .expect("pass");

    assert_eq!(pass.windows.len(), 1);
    assert_eq!(pass.windows[0].pages, 3, "250 records at 100 a page");
    assert_eq!(pass.records(), 250);
    assert_eq!(count(&db, "calls").await, 250);
    assert_eq!(count(&db, "agent_legs").await, legs_in(&data));
    assert_eq!(count(&db, "recordings").await, recordings_in(&data));
    let raws: Vec<Value> = sqlx::query_scalar("SELECT raw FROM ccc.calls ORDER BY start_time DESC")
        .fetch_all(&db.pool)
        .await
        .expect("raw");
    assert_eq!(raws, data, "each call keeps the record exactly as served");
    assert_eq!(
        calls_with_wrong_leg_totals(&db).await,
        0,
        "the writer's leg totals match the legs"
    );
    assert_eq!(watermark(&db, "agent-1").await, t0);

    let before = row_versions(&db).await;
    let again = scheduler::sync_source(
        &db.pool,
        &src,
        t0 + TimeDelta::minutes(1),
        &CancellationToken::new(),
    )
    .await
    .expect("second pass");
    assert_eq!(again.written().rows(), 0);
    assert_eq!(
        row_versions(&db).await,
        before,
        "unchanged rows are not rewritten"
    );
    assert_eq!(watermark(&db, "agent-1").await, t0 + TimeDelta::minutes(1));
    let journal: Vec<(String, i32)> =
        sqlx::query_as("SELECT status, records FROM ccc.sync_runs ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("runs");
    // The second pass starts 2 h before the watermark: the 120 calls of the last two hours.
    assert_eq!(
        journal,
        [("succeeded".to_owned(), 250), ("succeeded".to_owned(), 120)]
    );
}

#[tokio::test]
async fn re_syncing_changed_calls_leaves_exactly_the_new_state() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let t0 = now();
    let start = (t0 - TimeDelta::minutes(30)).timestamp_millis();
    let a = ccc::record(
        "A1",
        start,
        &["1001@ccctest", "1002@ccctest", "1003@ccctest"],
        2,
    );
    let b = ccc::record("B1", start + 1000, &["1001@ccctest"], 0);
    let c = ccc::record("C1", start + 2000, &["1002@ccctest"], 1);
    sim.set_records(vec![a.clone(), b.clone(), c.clone()]);
    let src = source(&sim, "agent-1", &KEY);
    scheduler::sync_source(&db.pool, &src, t0, &CancellationToken::new())
        .await
        .expect("pass 1");
    let c_before: Vec<(String, String)> = row_versions(&db)
        .await
        .into_iter()
        .filter(|(k, _)| k.contains("C1"))
        .collect();

    let mut a2 = ccc::record("A1", start, &["1001@ccctest", "1002@ccctest"], 0);
    a2["Satisfaction"] = json!(3);
    a2["SatisfactionDesc"] = json!("满意");
    let mut b2 = b.clone();
    b2["Agents"]["CallDetailAgent"][0]["TalkTime"] = json!("95");
    b2["Agents"]["CallDetailAgent"][0]["HoldTime"] = Value::Null;
    sim.set_records(vec![a2, b2, c]);
    let pass = scheduler::sync_source(
        &db.pool,
        &src,
        t0 + TimeDelta::minutes(1),
        &CancellationToken::new(),
    )
    .await
    .expect("pass 2");

    assert_eq!(pass.written().calls, 2, "A and B changed, C did not");
    let legs: Vec<(String, i16, Option<i32>)> =
        sqlx::query_as("SELECT contact_id, leg_no, talk_time FROM ccc.agent_legs ORDER BY 1, 2")
            .fetch_all(&db.pool)
            .await
            .expect("legs");
    assert_eq!(
        legs,
        [
            ("A1".to_owned(), 1, Some(60)),
            ("A1".to_owned(), 2, Some(61)),
            ("B1".to_owned(), 1, Some(95)),
            ("C1".to_owned(), 1, Some(60)),
        ]
    );
    let recordings: Vec<String> =
        sqlx::query_scalar("SELECT contact_id FROM ccc.recordings ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .expect("r");
    assert_eq!(recordings, ["C1"], "A lost both recordings");
    assert_eq!(
        calls_with_wrong_leg_totals(&db).await,
        0,
        "totals follow the legs that changed"
    );
    let (satisfaction, desc): (Option<i32>, Option<String>) = sqlx::query_as(
        "SELECT satisfaction, satisfaction_desc FROM ccc.calls WHERE contact_id = 'A1'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("A1");
    assert_eq!((satisfaction, desc.as_deref()), (Some(3), Some("满意")));
    let c_after: Vec<(String, String)> = row_versions(&db)
        .await
        .into_iter()
        .filter(|(k, _)| k.contains("C1"))
        .collect();
    assert_eq!(
        c_after, c_before,
        "the unchanged call and its rows were not rewritten"
    );
}

#[tokio::test]
async fn a_failure_on_page_3_of_5_leaves_the_watermark_and_the_next_pass_completes() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let t0 = now();
    sim.set_records(records(450, t0));
    fail_every_page_3(&sim);
    let src = source(&sim, "agent-1", &KEY);

    let err = scheduler::sync_source(&db.pool, &src, t0, &CancellationToken::new())
        .await
        .expect_err("fails");

    assert!(matches!(err, SyncError::Fetch { .. }), "{err}");
    assert_eq!(err.code(), "InvalidParameter");
    assert_eq!(
        count(&db, "calls").await,
        0,
        "pages 1 and 2 rolled back with the window"
    );
    assert_eq!(
        watermark(&db, "agent-1").await,
        t0 - TimeDelta::hours(6),
        "the watermark did not move"
    );
    let failed: (String, Option<String>, Option<String>, i32) =
        sqlx::query_as("SELECT status, error_code, request_id, pages FROM ccc.sync_runs")
            .fetch_one(&db.pool)
            .await
            .expect("run");
    assert_eq!(
        failed,
        (
            "failed".into(),
            Some("InvalidParameter".into()),
            Some(FAULT_REQUEST_ID.into()),
            2
        )
    );

    sim.clear_page_faults();
    let t1 = t0 + TimeDelta::minutes(1);
    scheduler::sync_source(&db.pool, &src, t1, &CancellationToken::new())
        .await
        .expect("second pass");
    assert_eq!(count(&db, "calls").await, 450);
    assert_eq!(watermark(&db, "agent-1").await, t1);
}

#[tokio::test]
async fn a_window_failing_while_the_one_before_commits_leaves_that_one_committed_and_none_of_itself()
 {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let t0 = now();
    // Windows of 3 hours from 8 hours back (start_from and the lookback): the second holds one page of calls;
    // the last, three, and its third fails. The last is fetched and staged while the second commits.
    let first = (0..50).map(|i| {
        let start = t0 - TimeDelta::hours(4) + TimeDelta::minutes(i);
        ccc::record(
            &format!("1{i:04}"),
            start.timestamp_millis(),
            &["1001@ccctest"],
            1,
        )
    });
    let second = (0..250).map(|i| {
        let start = t0 - TimeDelta::seconds(10 * (i + 1));
        ccc::record(
            &format!("2{i:04}"),
            start.timestamp_millis(),
            &["1002@ccctest"],
            0,
        )
    });
    sim.set_records(first.chain(second).collect());
    fail_every_page_3(&sim);
    let src = Config::new(UNUSED_DATABASE)
        .source(spine(&sim, "agent-1", &KEY).chunk("3h"))
        .load_source();

    let err = scheduler::sync_source(&db.pool, &src, t0, &CancellationToken::new())
        .await
        .expect_err("the second window fails");

    assert_eq!(err.code(), "InvalidParameter", "{err}");
    assert_eq!(
        count(&db, "calls").await,
        50,
        "the windows before the failed one"
    );
    assert_eq!(count(&db, "agent_legs").await, 50);
    assert_eq!(count(&db, "recordings").await, 50);
    assert_eq!(watermark(&db, "agent-1").await, t0 - TimeDelta::hours(2));
    let runs: Vec<(String, i32)> =
        sqlx::query_as("SELECT status, pages FROM ccc.sync_runs ORDER BY window_start")
            .fetch_all(&db.pool)
            .await
            .expect("runs");
    assert_eq!(
        runs,
        [
            ("succeeded".into(), 1),
            ("succeeded".into(), 1),
            ("failed".into(), 2)
        ]
    );

    sim.clear_page_faults();
    let t1 = t0 + TimeDelta::minutes(1);
    scheduler::sync_source(&db.pool, &src, t1, &CancellationToken::new())
        .await
        .expect("second pass");
    assert_eq!(count(&db, "calls").await, 300);
    assert_eq!(watermark(&db, "agent-1").await, t1);
}

#[tokio::test]
async fn retryable_faults_are_retried_and_the_window_still_lands_exactly() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let t0 = now();
    let data = records(300, t0);
    sim.set_records(data.clone());
    sim.fail_page(PageFault {
        page: 1,
        times: 1,
        status: 400,
        body: ccc::error_body(
            "Throttling.User",
            "Request was denied due to user flow control.",
        ),
    });
    sim.fail_page(PageFault {
        page: 2,
        times: 2,
        status: 503,
        body: ccc::error_body("ServiceUnavailable", "temporary failure"),
    });
    sim.fail_page(PageFault {
        page: 3,
        times: 1,
        status: 200,
        body: r#"{"RequestId":"T","Success":true,"CallDetailRecords":{"List":{"CallDet"#.into(),
    });
    let src = source(&sim, "agent-1", &KEY);

    let pass = scheduler::sync_source(&db.pool, &src, t0, &CancellationToken::new())
        .await
        .expect("pass");

    assert_eq!(pass.records(), 300);
    assert_eq!(
        sim.requests().total,
        4 + 4,
        "four pages (the last one empty) and four retried faults"
    );
    assert_eq!(count(&db, "calls").await, 300);
    assert_eq!(count(&db, "agent_legs").await, legs_in(&data));
}

#[tokio::test]
async fn records_two_sources_both_see_land_once() {
    let db = TestDb::new().await;
    let k1 = ccc::key("LTAI-1001", "one", Some("1001@ccctest"));
    let k2 = ccc::key("LTAI-1002", "two", Some("1002@ccctest"));
    let sim = ccc::scripted(vec![k1.clone(), k2.clone()]).await;
    let t0 = now();
    let start = (t0 - TimeDelta::hours(1)).timestamp_millis();
    let mut data = Vec::new();
    for i in 0..10 {
        data.push(ccc::record(
            &format!("X{i}"),
            start + i * 1000,
            &["1001@ccctest"],
            1,
        ));
        data.push(ccc::record(
            &format!("Y{i}"),
            start + i * 1000 + 1,
            &["1002@ccctest"],
            0,
        ));
    }
    for i in 0..5 {
        data.push(ccc::record(
            &format!("Z{i}"),
            start + i * 1000 + 2,
            &["1001@ccctest", "1002@ccctest"],
            1,
        ));
    }
    sim.set_records(data);
    let sources = [
        source(&sim, "agent-1001", &k1),
        source(&sim, "agent-1002", &k2),
    ];

    let results = scheduler::sync_once(&db.pool, &sources, t0, &CancellationToken::new()).await;

    assert_eq!(
        results
            .iter()
            .map(|r| r.as_ref().expect("pass").records())
            .collect::<Vec<_>>(),
        [15, 15]
    );
    assert_eq!(count(&db, "calls").await, 25);
    assert_eq!(count(&db, "agent_legs").await, 30);
    assert_eq!(count(&db, "recordings").await, 15);
}

#[tokio::test]
async fn records_without_identity_are_quarantined_once_and_the_window_commits() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let t0 = now();
    let mut data = records(5, t0);
    let mut nameless = ccc::record("", t0.timestamp_millis() - 5000, &[], 0);
    nameless
        .as_object_mut()
        .expect("object")
        .remove("ContactId");
    data.push(nameless);
    data.push(json!({"ContactId": "BAD-TIME", "StartTime": "yesterday"}));
    sim.set_records(data);
    let src = source(&sim, "agent-1", &KEY);

    let pass = scheduler::sync_source(&db.pool, &src, t0, &CancellationToken::new())
        .await
        .expect("pass");
    scheduler::sync_source(
        &db.pool,
        &src,
        t0 + TimeDelta::minutes(1),
        &CancellationToken::new(),
    )
    .await
    .expect("pass 2");

    assert_eq!(pass.written().quarantined, 2);
    assert_eq!(count(&db, "calls").await, 5);
    let kept: Vec<(String, String)> =
        sqlx::query_as("SELECT reason, request_id FROM ccc.quarantined_records ORDER BY reason")
            .fetch_all(&db.pool)
            .await
            .expect("quarantine");
    assert_eq!(kept.len(), 2, "seen twice, kept once: {kept:?}");
    assert_eq!(kept[0].0, "record has no ContactId");
    assert!(!kept[0].1.is_empty(), "the RequestId is kept");
}

#[tokio::test]
async fn a_wrong_secret_fails_at_once_with_the_services_code() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    sim.set_records(records(3, now()));
    let wrong = AccessKey {
        secret: "not-the-secret".into(),
        ..KEY.clone()
    };
    let src = source(&sim, "agent-1", &wrong);

    let err = scheduler::sync_source(&db.pool, &src, now(), &CancellationToken::new())
        .await
        .expect_err("fatal");

    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(sim.requests().total, 1, "a fatal error is not retried");
    assert_eq!(count(&db, "calls").await, 0);
}

#[tokio::test]
async fn backfill_never_moves_the_watermark_backwards_nor_across_a_gap() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let t0 = now();
    let mut data = records(10, t0);
    data.push(ccc::record(
        "OLD-1",
        (t0 - TimeDelta::days(2) + TimeDelta::hours(1)).timestamp_millis(),
        &["1001@ccctest"],
        0,
    ));
    sim.set_records(data);
    let src = source(&sim, "agent-1", &KEY);
    let cancel = CancellationToken::new();
    scheduler::sync_source(&db.pool, &src, t0, &cancel)
        .await
        .expect("pass");

    let old = scheduler::backfill(
        &db.pool,
        &src,
        t0 - TimeDelta::days(3),
        t0 - TimeDelta::days(1),
        t0,
        &cancel,
    )
    .await
    .expect("backfill");

    assert_eq!(old.records(), 1);
    assert_eq!(count(&db, "calls").await, 11);
    assert_eq!(watermark(&db, "agent-1").await, t0, "not moved backwards");

    let fresh = source(&sim, "agent-2", &KEY);
    scheduler::backfill(&db.pool, &fresh, t0 - TimeDelta::hours(2), t0, t0, &cancel)
        .await
        .expect("backfill");
    assert_eq!(
        watermark(&db, "agent-2").await,
        t0 - TimeDelta::hours(6),
        "a later span does not jump the gap"
    );
    scheduler::backfill(
        &db.pool,
        &fresh,
        t0 - TimeDelta::hours(7),
        t0 - TimeDelta::hours(3),
        t0,
        &cancel,
    )
    .await
    .expect("backfill");
    assert_eq!(
        watermark(&db, "agent-2").await,
        t0 - TimeDelta::hours(3),
        "a contiguous span moves it"
    );
}

#[tokio::test]
async fn a_cancelled_pass_commits_nothing() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    sim.set_records(records(50, now()));
    let src = source(&sim, "agent-1", &KEY);
    let cancel = CancellationToken::new();
    cancel.cancel();

    let err = scheduler::sync_source(&db.pool, &src, now(), &cancel)
        .await
        .expect_err("interrupted");

    assert!(matches!(err, SyncError::Interrupted));
    assert_eq!(count(&db, "calls").await, 0);
    assert_eq!(count(&db, "sync_runs").await, 0);
}

#[tokio::test]
async fn a_long_first_span_is_split_into_chunks_oldest_first() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let t0 = now();
    sim.set_records(records(100, t0));
    let src = Config::new(UNUSED_DATABASE)
        .source(spine(&sim, "agent-1", &KEY).chunk("1h"))
        .load_source();

    let pass = scheduler::sync_source(&db.pool, &src, t0, &CancellationToken::new())
        .await
        .expect("pass");

    assert_eq!(
        pass.windows.len(),
        8,
        "6 h since start_from plus 2 h lookback, in 1 h chunks"
    );
    assert!(
        pass.windows
            .windows(2)
            .all(|w| w[0].window.end == w[1].window.start)
    );
    assert_eq!(count(&db, "calls").await, 100);
    assert_eq!(count(&db, "sync_runs").await, 8);
}

#[tokio::test]
async fn a_due_reconciliation_catches_a_change_older_than_the_lookback() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let t0 = now();
    let old_start = (t0 - TimeDelta::hours(5)).timestamp_millis();
    sim.set_records(vec![ccc::record("OLD", old_start, &["1001@ccctest"], 0)]);
    let src = Config::new(UNUSED_DATABASE)
        .source(
            spine(&sim, "agent-1", &KEY)
                .reconcile_every("1h")
                .reconcile_span("12h"),
        )
        .load_source();
    let cancel = CancellationToken::new();
    scheduler::sync_source(&db.pool, &src, t0, &cancel)
        .await
        .expect("first pass");

    let mut answered = ccc::record("OLD", old_start, &["1001@ccctest"], 0);
    answered["Satisfaction"] = json!(1);
    sim.set_records(vec![answered]);
    let early = scheduler::sync_source(&db.pool, &src, t0 + TimeDelta::minutes(30), &cancel)
        .await
        .expect("pass");
    let due = scheduler::sync_source(&db.pool, &src, t0 + TimeDelta::minutes(61), &cancel)
        .await
        .expect("pass");

    assert_eq!(early.records(), 0, "5 h ago is beyond the 2 h lookback");
    assert_eq!(due.windows[0].kind, ccc_sync::writer::RunKind::Reconcile);
    assert_eq!(
        due.written().calls,
        1,
        "the reconciliation sees the late survey"
    );
    let satisfaction: Option<i32> = sqlx::query_scalar("SELECT satisfaction FROM ccc.calls")
        .fetch_one(&db.pool)
        .await
        .expect("call");
    assert_eq!(satisfaction, Some(1));
    let next = scheduler::sync_source(&db.pool, &src, t0 + TimeDelta::minutes(62), &cancel)
        .await
        .expect("pass");
    assert_eq!(
        next.windows[0].kind,
        ccc_sync::writer::RunKind::Incremental,
        "not due again for an hour"
    );
}

#[tokio::test]
async fn masked_and_hashed_modes_leave_no_phone_number_anywhere_in_the_warehouse() {
    for (mode, warehouse) in [
        (
            "masked",
            Config::new(UNUSED_DATABASE).phone_numbers("masked"),
        ),
        (
            "hashed",
            Config::new(UNUSED_DATABASE)
                .phone_numbers("hashed")
                .phone_number_hash_key(&"k".repeat(40)),
        ),
    ] {
        let db = TestDb::new().await;
        let sim = ccc::scripted(vec![KEY.clone()]).await;
        let t0 = now();
        sim.set_records(records(20, t0));
        let src = warehouse.source(spine(&sim, "agent-1", &KEY)).load_source();

        scheduler::sync_source(&db.pool, &src, t0, &CancellationToken::new())
            .await
            .expect("pass");

        let everything: String = sqlx::query_scalar(
            "SELECT concat((SELECT string_agg(c::text, ' ') FROM ccc.calls c),
                           (SELECT string_agg(r::text, ' ') FROM ccc.recordings r))",
        )
        .fetch_one(&db.pool)
        .await
        .expect("dump");
        for number in ["13621078901", "2566806658"] {
            assert!(
                !everything.contains(number),
                "{mode}: {number} is still stored"
            );
        }
        let calling: String = sqlx::query_scalar("SELECT calling_number FROM ccc.calls LIMIT 1")
            .fetch_one(&db.pool)
            .await
            .expect("call");
        match mode {
            "masked" => assert_eq!(calling, "013*****8901"),
            _ => assert!(
                calling.starts_with("hmac:") && calling.len() == 5 + 64,
                "{calling}"
            ),
        }
        let distinct: i64 =
            sqlx::query_scalar("SELECT count(DISTINCT calling_number) FROM ccc.calls")
                .fetch_one(&db.pool)
                .await
                .expect("count");
        assert_eq!(distinct, 1, "{mode}: one caller stays one caller");
    }
}

/// Journals a run of `source` that finished `ago`; returns its id.
async fn journal_run(db: &TestDb, source: &str, ago: TimeDelta) -> i64 {
    let at = Utc::now() - ago;
    sqlx::query_scalar(
        "INSERT INTO ccc.sync_runs (source, kind, window_start, window_end, status, started_at, finished_at)
         VALUES ($1, 'incremental', $2, $2, 'succeeded', $2, $2) RETURNING id",
    )
    .bind(source)
    .bind(at)
    .fetch_one(&db.pool)
    .await
    .expect("journal a run")
}

async fn journal_ids(db: &TestDb, source: &str) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM ccc.sync_runs WHERE source = $1 ORDER BY id")
        .bind(source)
        .fetch_all(&db.pool)
        .await
        .expect("journal")
}

#[tokio::test]
async fn pruning_deletes_runs_older_than_the_retention_but_keeps_newer_ones_and_each_sources_latest()
 {
    let db = TestDb::new().await;
    let _old = journal_run(&db, "a", TimeDelta::days(40)).await;
    let _older = journal_run(&db, "a", TimeDelta::days(41)).await;
    let recent = journal_run(&db, "a", TimeDelta::days(20)).await;
    let latest = journal_run(&db, "a", TimeDelta::hours(1)).await;
    let _b_old = journal_run(&db, "b", TimeDelta::days(50)).await;
    let b_latest = journal_run(&db, "b", TimeDelta::days(45)).await;
    let before = Utc::now() - TimeDelta::days(30);
    let mut conn = db.pool.acquire().await.expect("connection");

    let deleted_a = ccc_sync::writer::prune_runs(&mut conn, "a", before)
        .await
        .expect("prune a");
    let b_untouched = journal_ids(&db, "b").await.len();
    let deleted_b = ccc_sync::writer::prune_runs(&mut conn, "b", before)
        .await
        .expect("prune b");

    assert_eq!(deleted_a, 2);
    assert_eq!(journal_ids(&db, "a").await, [recent, latest]);
    assert_eq!(b_untouched, 2, "pruning one source leaves the others alone");
    assert_eq!(deleted_b, 1);
    assert_eq!(
        journal_ids(&db, "b").await,
        [b_latest],
        "a source's latest run stays, however old, for `ccc-sync status`"
    );
}

#[tokio::test]
async fn the_daemon_prunes_the_journal_of_the_sources_it_holds_at_most_hourly() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let src = source(&sim, "agent-1", &KEY);
    let old = journal_run(&db, "agent-1", TimeDelta::days(40)).await;
    let elsewhere = journal_run(&db, "agent-2", TimeDelta::days(40)).await;
    let thirty_days = Some(std::time::Duration::from_secs(30 * 86_400));
    let health = std::sync::Arc::new(ccc_sync::health::Health::default());
    let mut source_loop =
        scheduler::SourceLoop::new(db.pool.clone(), src, thirty_days, health.clone());
    let cancel = CancellationToken::new();
    let other_replica =
        ccc_sync::lock::SourceLock::try_acquire(&db.pool.connect_options(), "agent-1")
            .await
            .expect("database")
            .expect("the source is free");

    source_loop.step(&cancel).await.expect("a standby step");
    let while_standing_by = journal_ids(&db, "agent-1").await;
    drop(other_replica);
    source_loop.step(&cancel).await.expect("a step");
    let after_the_first_pass = journal_ids(&db, "agent-1").await;
    let old_again = journal_run(&db, "agent-1", TimeDelta::days(40)).await;
    source_loop.step(&cancel).await.expect("another step");

    assert_eq!(while_standing_by, [old], "a standby prunes nothing");
    assert!(
        !after_the_first_pass.contains(&old) && !after_the_first_pass.is_empty(),
        "the holder pruned the old run and kept its pass's: {after_the_first_pass:?}"
    );
    assert!(
        journal_ids(&db, "agent-1").await.contains(&old_again),
        "pruned at most once an hour"
    );
    assert_eq!(
        journal_ids(&db, "agent-2").await,
        [elsewhere],
        "another source's journal is its holder's to prune"
    );
}

#[tokio::test]
async fn with_retention_off_the_daemon_keeps_every_run() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let src = source(&sim, "agent-1", &KEY);
    let old = journal_run(&db, "agent-1", TimeDelta::days(400)).await;
    let health = std::sync::Arc::new(ccc_sync::health::Health::default());
    let mut source_loop = scheduler::SourceLoop::new(db.pool.clone(), src, None, health);

    source_loop
        .step(&CancellationToken::new())
        .await
        .expect("a step");

    let kept = journal_ids(&db, "agent-1").await;
    assert!(kept.len() > 1 && kept.contains(&old), "{kept:?}");
}

#[tokio::test]
async fn a_pool_of_one_connection_syncs_a_new_source_window_after_window() {
    let db = TestDb::new().await;
    let sim = ccc::scripted(vec![KEY.clone()]).await;
    let t0 = now();
    sim.set_records(records(300, t0));
    let src = Config::new(UNUSED_DATABASE)
        .source(spine(&sim, "agent-1", &KEY).chunk("1h"))
        .load_source();
    let one = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&db.url)
        .await
        .expect("a pool of one");

    let pass = scheduler::sync_source(&one, &src, t0, &CancellationToken::new())
        .await
        .expect("no wait for a second connection");

    assert!(pass.windows.len() >= 8, "{} windows", pass.windows.len());
    assert_eq!(count(&db, "calls").await, 300);
    assert_eq!(watermark(&db, "agent-1").await, t0);
}
