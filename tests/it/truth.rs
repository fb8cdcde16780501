//! "The warehouse is exact": calls, legs and recordings compared with the simulator's ground truth.

use std::collections::BTreeMap;

use ccc_sync::ccc::CallRecord;
use ccc_sync::ccc::wire::{parse_call_detail_body, parse_list_body, parse_mono_recordings_body};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

type Leg = (
    String,
    i16,
    Option<String>,
    Option<i64>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<String>,
);
type Rec = (
    String,
    i16,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i32>,
);

/// Fails with a short account of what differs: missing, extra or different calls, legs, recordings.
pub async fn assert_warehouse_matches(pool: &PgPool, truth: &[Value]) {
    let mut conn = pool.acquire().await.expect("connection");
    assert_connection_matches(&mut conn, truth).await;
}

/// [`assert_warehouse_matches`] for the truth of CCC 2.0 (`TruthView::Ccc2`): each call's `raw` is its list
/// record, its legs are what its detail's events give, its recordings its mono recording files.
pub async fn assert_ccc2_matches(pool: &PgPool, truth: &[Value]) {
    let mut conn = pool.acquire().await.expect("connection");
    let records: Vec<Value> = truth.iter().map(|c| c["Record"].clone()).collect();
    let body = json!({"RequestId": "truth", "Code": "OK", "Data": {"List": records}});
    let parsed = ccc_sync::ccc::wire::parse_list_body_2020(body.to_string().as_bytes())
        .expect("the truth parses");
    assert!(parsed.invalid.is_empty(), "the truth has invalid records");
    let mut calls = Vec::new();
    for (mut call, item) in parsed.records.into_iter().zip(truth) {
        let ok = |data: &Value| json!({"RequestId": "t", "Code": "OK", "Data": data}).to_string();
        let detail = parse_call_detail_body(ok(&item["Detail"]).as_bytes()).expect("detail");
        call.agents = detail.agent_legs(
            call.skill_group_ids.as_deref(),
            call.skill_group_names.as_deref(),
        );
        call.recordings = parse_mono_recordings_body(ok(&item["MonoRecordings"]).as_bytes())
            .expect("recordings")
            .1;
        calls.push(call);
    }
    assert_calls_match(&mut conn, &records, &calls).await;
}

/// [`assert_warehouse_matches`] through one connection (or an open transaction).
pub async fn assert_connection_matches(conn: &mut PgConnection, truth: &[Value]) {
    let body = json!({"RequestId": "truth", "Success": true, "CallDetailRecords": {"List": {"CallDetailRecord": truth}}});
    let parsed = parse_list_body(body.to_string().as_bytes()).expect("the truth parses");
    assert!(parsed.invalid.is_empty(), "the truth has invalid records");
    assert_calls_match(conn, truth, &parsed.records).await;
}

/// The warehouse holds exactly `truth` (each call's `raw`) with the legs and recordings of `calls`.
async fn assert_calls_match(conn: &mut PgConnection, truth: &[Value], calls: &[CallRecord]) {
    let expected: BTreeMap<String, Value> = truth
        .iter()
        .map(|r| {
            (
                r["ContactId"].as_str().expect("ContactId").to_owned(),
                r.clone(),
            )
        })
        .collect();
    assert_eq!(
        expected.len(),
        truth.len(),
        "the truth itself has duplicate ContactIds"
    );
    let stored: BTreeMap<String, Value> =
        sqlx::query_as::<_, (String, Value)>("SELECT contact_id, raw FROM ccc.calls")
            .fetch_all(&mut *conn)
            .await
            .expect("calls")
            .into_iter()
            .collect();
    let missing: Vec<&String> = expected
        .keys()
        .filter(|k| !stored.contains_key(*k))
        .collect();
    let extra: Vec<&String> = stored
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    let different: Vec<&String> = expected
        .iter()
        .filter(|(k, v)| stored.get(*k).is_some_and(|s| s != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && different.is_empty(),
        "calls: {} expected, {} stored; missing {:?}, extra {:?}, different {:?}",
        expected.len(),
        stored.len(),
        &missing[..missing.len().min(5)],
        &extra[..extra.len().min(5)],
        &different[..different.len().min(5)],
    );

    let mut want_legs: Vec<Leg> = Vec::new();
    let mut want_recs: Vec<Rec> = Vec::new();
    for call in calls {
        for (i, l) in call.agents.iter().enumerate() {
            want_legs.push((
                call.contact_id.clone(),
                i as i16 + 1,
                l.agent_id.clone(),
                l.start_time_ms,
                l.queue_time,
                l.ring_time,
                l.talk_time,
                l.hold_time,
                l.work_time,
                l.satisfaction.clone(),
            ));
        }
        for (i, r) in call.recordings.iter().enumerate() {
            want_recs.push((
                call.contact_id.clone(),
                i as i16 + 1,
                r.file_path.clone(),
                r.calling_number.clone(),
                r.start_time_ms,
                r.duration,
            ));
        }
    }
    want_legs.sort();
    want_recs.sort();
    let legs: Vec<Leg> = sqlx::query_as(
        "SELECT contact_id, leg_no, agent_id, (extract(epoch FROM start_time) * 1000)::int8, queue_time, ring_time,
                talk_time, hold_time, work_time, satisfaction
         FROM ccc.agent_legs ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("legs");
    assert!(
        legs == want_legs,
        "agent legs differ: {} expected, {} stored",
        want_legs.len(),
        legs.len()
    );
    let recs: Vec<Rec> = sqlx::query_as(
        "SELECT contact_id, recording_no, file_path, calling_number, (extract(epoch FROM start_time) * 1000)::int8, duration
         FROM ccc.recordings ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("recordings");
    assert!(
        recs == want_recs,
        "recordings differ: {} expected, {} stored",
        want_recs.len(),
        recs.len()
    );
}
