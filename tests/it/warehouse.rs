//! The BI layer: the reporting views against hand-computed answers, the triggers that keep business dates
//! and leg totals right, and the rule that everything in schema `ccc` explains itself.
//!
//! Rows are compared as PostgreSQL prints a record: NULL is empty, text with spaces is quoted.

use crate::support::TestDb;

/// Eight calls around midnight in Asia/Shanghai (UTC+8): calls 1002 and 1003 start on 1 March in UTC but
/// on 2 March in Shanghai. Answered, abandoned and unanswered calls, transfers, NULL times, an agent leg
/// without an agent, a renamed agent, and a contact type and disposition no lookup knows.
const DATASET: &str = r#"
INSERT INTO ccc.calls (instance_id, contact_id, start_time, duration, contact_type, contact_disposition,
                       calling_number, called_number, agent_names, skill_group_names, satisfaction,
                       satisfaction_desc, raw) VALUES
    ('i1', '1001', '2026-03-01 15:30:00+00', 600, 'Inbound', 'Success', '13800000001', '02566800001',
     'Alice,Bob', 'Sales,Support', 1, '满意', '{}'),
    ('i1', '1002', '2026-03-01 16:30:00+00', 45, 'Inbound', 'AbandonedInQueue', '13800000002', '02566800001',
     NULL, 'Sales', NULL, '未发送', '{}'),
    ('i1', '1003', '2026-03-01 20:00:00+00', 400, 'Inbound', 'Success', '13800000003', '02566800001',
     'Alice', 'Sales, ', NULL, '未评价', '{}'),
    ('i1', '1004', '2026-03-02 01:00:00+00', 30, 'Inbound', 'AbandonedRing', '13800000004', '02566800001',
     'Bob', 'Support', NULL, NULL, '{}'),
    ('i1', '1005', '2026-03-02 02:00:00+00', 120, 'Outbound', 'Success', '02566800001', '13800000005',
     'Alice', NULL, 3, '满意', '{}'),
    ('i1', '1006', '2026-03-02 03:00:00+00', NULL, 'VideoCall', 'FutureCode', '13800000006', '02566800001',
     NULL, 'Support', NULL, NULL, '{}'),
    ('i1', '1007', '2026-03-02 04:00:00+00', 25, 'Inbound', 'NoAnswer', '13800000007', '02566800001',
     'Bob Li', 'Support', NULL, '未发送', '{}'),
    ('i2', '1008', '2026-03-02 05:00:00+00', 10, 'Inbound', 'AbandonedInContactFlow', '13800000008', '02566800002',
     NULL, NULL, NULL, NULL, '{}');

INSERT INTO ccc.agent_legs (instance_id, contact_id, leg_no, agent_id, agent_name, skill_group_name, start_time,
                            queue_time, ring_time, talk_time, hold_time, work_time) VALUES
    ('i1', '1001', 1, 'a1', 'Alice', 'Sales', '2026-03-01 15:30:10+00', 10, 5, 300, 20, 30),
    ('i1', '1001', 2, 'a2', 'Bob', 'Support', '2026-03-01 15:36:00+00', 15, 4, 200, NULL, 10),
    ('i1', '1003', 1, 'a1', 'Alice', 'Sales', '2026-03-01 20:00:20+00', NULL, 6, 240, 0, NULL),
    ('i1', '1004', 1, 'a2', 'Bob', 'Support', '2026-03-02 01:00:15+00', 20, 12, 0, 0, 0),
    ('i1', '1005', 1, 'a1', NULL, NULL, '2026-03-02 02:00:00+00', 0, 8, 100, 5, 15),
    ('i1', '1007', 1, 'a2', 'Bob Li', 'Support', '2026-03-02 04:00:00+00', NULL, 25, 0, NULL, NULL),
    ('i1', '1007', 2, NULL, NULL, 'Support', NULL, NULL, 3, NULL, NULL, NULL);
"#;

async fn seeded() -> TestDb {
    let db = TestDb::new().await;
    sqlx::raw_sql(DATASET)
        .execute(&db.pool)
        .await
        .expect("the dataset loads");
    db
}

/// Runs a query whose single column is a row as text.
async fn rows(db: &TestDb, sql: &'static str) -> Vec<String> {
    sqlx::query_scalar(sql)
        .fetch_all(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn execute(db: &TestDb, sql: &'static str) {
    sqlx::raw_sql(sql)
        .execute(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

const DAILY_COUNTS: &str = "SELECT ROW(business_date, instance_id, contact_type, contact_type_label_en, \
     contact_type_label_zh, offered, answered, abandoned, answer_rate, abandon_rate, routed, handled)::text \
     FROM ccc.daily_calls ORDER BY instance_id, business_date, contact_type";

const AGENT_LEGS_PER_DAY: &str = "SELECT ROW(business_date, agent_id, legs)::text FROM ccc.agent_daily \
     ORDER BY business_date, agent_id";

#[tokio::test]
async fn every_table_view_column_and_function_in_schema_ccc_has_a_comment() {
    let db = TestDb::new().await;

    let missing = rows(
        &db,
        "SELECT c.relname::text FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'ccc' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
           AND obj_description(c.oid, 'pg_class') IS NULL \
         UNION ALL \
         SELECT c.relname || '.' || a.attname FROM pg_class AS c \
         JOIN pg_namespace AS n ON n.oid = c.relnamespace \
         JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         WHERE n.nspname = 'ccc' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
           AND col_description(c.oid, a.attnum) IS NULL \
         UNION ALL \
         SELECT p.oid::regprocedure::text FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'ccc' AND obj_description(p.oid, 'pg_proc') IS NULL \
         ORDER BY 1",
    )
    .await;

    assert_eq!(
        missing,
        Vec::<String>::new(),
        "add a COMMENT ON for each of these, in a new migration"
    );
    let checked = rows(
        &db,
        "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class AS c \
         JOIN pg_namespace AS n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'ccc' AND c.relkind = 'v'",
    )
    .await;
    assert_eq!(
        checked,
        ["agent_daily,calls_enriched,daily_calls,recording_files,skill_group_daily"],
        "the views are among what was checked"
    );
}

#[tokio::test]
async fn no_comment_in_schema_ccc_names_a_privacy_section_that_does_not_exist() {
    let db = TestDb::new().await;

    let wrong = rows(
        &db,
        "SELECT c.relname::text FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'ccc' AND obj_description(c.oid, 'pg_class') LIKE '%[privacy]%' \
         UNION ALL \
         SELECT c.relname || '.' || a.attname FROM pg_class AS c \
         JOIN pg_namespace AS n ON n.oid = c.relnamespace \
         JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         WHERE n.nspname = 'ccc' AND col_description(c.oid, a.attnum) LIKE '%[privacy]%' \
         UNION ALL \
         SELECT p.oid::regprocedure::text FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'ccc' AND obj_description(p.oid, 'pg_proc') LIKE '%[privacy]%' \
         ORDER BY 1",
    )
    .await;

    assert_eq!(wrong, Vec::<String>::new(), "the setting is in [warehouse]");
    let calling = rows(
        &db,
        "SELECT col_description('ccc.calls'::regclass, attnum) FROM pg_attribute \
         WHERE attrelid = 'ccc.calls'::regclass AND attname = 'calling_number'",
    )
    .await;
    assert!(
        calling[0].contains("[warehouse] phone_numbers"),
        "{calling:?}"
    );
}

#[tokio::test]
async fn daily_calls_counts_each_call_on_its_business_day_in_asia_shanghai() {
    let db = seeded().await;

    let counts = rows(&db, DAILY_COUNTS).await;

    assert_eq!(
        counts,
        [
            "(2026-03-01,i1,Inbound,Inbound,呼入,1,1,0,1.0000,0.0000,1,1)",
            "(2026-03-02,i1,Inbound,Inbound,呼入,4,1,2,0.2500,0.5000,3,1)",
            "(2026-03-02,i1,Outbound,Outbound,呼出,1,1,0,1.0000,0.0000,1,1)",
            "(2026-03-02,i1,VideoCall,VideoCall,VideoCall,1,0,0,0.0000,0.0000,0,0)",
            "(2026-03-02,i2,Inbound,Inbound,呼入,1,0,0,0.0000,0.0000,0,0)",
        ]
    );
}

#[tokio::test]
async fn daily_calls_averages_queue_and_ring_over_routed_calls_and_the_rest_over_handled_calls() {
    let db = seeded().await;

    let times = rows(
        &db,
        "SELECT ROW(business_date, instance_id, contact_type, duration_total, queue_time_total, \
         ring_time_total, talk_time_total, hold_time_total, work_time_total, handle_time_total, avg_queue_time, \
         avg_ring_time, avg_talk_time, avg_hold_time, avg_work_time, avg_handle_time)::text \
         FROM ccc.daily_calls ORDER BY instance_id, business_date, contact_type",
    )
    .await;

    assert_eq!(
        times,
        [
            "(2026-03-01,i1,Inbound,600,25,9,500,20,40,560,25.0,9.0,500.0,20.0,40.0,560.0)",
            "(2026-03-02,i1,Inbound,500,20,46,240,0,0,240,6.7,15.3,240.0,0.0,0.0,240.0)",
            "(2026-03-02,i1,Outbound,120,0,8,100,5,15,120,0.0,8.0,100.0,5.0,15.0,120.0)",
            "(2026-03-02,i1,VideoCall,,,,,,,,,,,,,)",
            "(2026-03-02,i2,Inbound,10,,,,,,,,,,,,)",
        ]
    );
}

#[tokio::test]
async fn daily_calls_counts_survey_outcomes() {
    let db = seeded().await;

    let surveys = rows(
        &db,
        "SELECT ROW(business_date, instance_id, contact_type, rated, survey_not_rated, survey_not_sent)::text \
         FROM ccc.daily_calls ORDER BY instance_id, business_date, contact_type",
    )
    .await;

    assert_eq!(
        surveys,
        [
            "(2026-03-01,i1,Inbound,1,0,0)",
            "(2026-03-02,i1,Inbound,0,1,2)",
            "(2026-03-02,i1,Outbound,1,0,0)",
            "(2026-03-02,i1,VideoCall,0,0,0)",
            "(2026-03-02,i2,Inbound,0,0,0)",
        ]
    );
}

#[tokio::test]
async fn daily_calls_gives_the_same_figures_as_aggregating_calls_enriched() {
    let db = seeded().await;

    let differences = rows(
        &db,
        "WITH direct AS (
             SELECT business_date, instance_id, contact_type, contact_type_label_en, count(*) AS offered,
                    count(*) FILTER (WHERE is_answered) AS answered, count(*) FILTER (WHERE is_abandoned) AS abandoned,
                    count(*) FILTER (WHERE is_routed) AS routed, count(*) FILTER (WHERE is_handled) AS handled,
                    sum(duration) AS duration_total, sum(queue_time) AS queue_time_total,
                    sum(ring_time) AS ring_time_total, sum(handle_time) AS handle_time_total,
                    count(*) FILTER (WHERE is_rated) AS rated
             FROM ccc.calls_enriched GROUP BY 1, 2, 3, 4),
         via_view AS (
             SELECT business_date, instance_id, contact_type, contact_type_label_en, offered, answered, abandoned,
                    routed, handled, duration_total, queue_time_total, ring_time_total, handle_time_total, rated
             FROM ccc.daily_calls)
         SELECT 'only in calls_enriched: ' || ROW(d.*)::text FROM (TABLE direct EXCEPT TABLE via_view) AS d
         UNION ALL
         SELECT 'only in daily_calls: ' || ROW(v.*)::text FROM (TABLE via_view EXCEPT TABLE direct) AS v",
    )
    .await;

    assert_eq!(differences, Vec::<String>::new());
}

#[tokio::test]
async fn calls_enriched_labels_each_call_and_totals_its_legs() {
    let db = seeded().await;

    let calls = rows(
        &db,
        "SELECT ROW(contact_id, business_date, end_time AT TIME ZONE 'UTC', start_time_local, business_hour, \
         contact_type_label_en, contact_type_label_zh, direction, disposition_label_en, disposition_label_zh, \
         is_answered, is_abandoned, is_routed, is_handled, is_rated, leg_count, queue_time, ring_time, talk_time, \
         hold_time, work_time, handle_time)::text FROM ccc.calls_enriched ORDER BY contact_id",
    )
    .await;

    assert_eq!(
        calls,
        [
            r#"(1001,2026-03-01,"2026-03-01 15:40:00","2026-03-01 23:30:00",23,Inbound,呼入,inbound,Answered,接通,t,f,t,t,t,2,25,9,500,20,40,560)"#,
            r#"(1002,2026-03-02,"2026-03-01 16:30:45","2026-03-02 00:30:00",0,Inbound,呼入,inbound,"Abandoned in queue",排队中放弃,f,t,f,f,f,0,,,,,,)"#,
            r#"(1003,2026-03-02,"2026-03-01 20:06:40","2026-03-02 04:00:00",4,Inbound,呼入,inbound,Answered,接通,t,f,t,t,f,1,0,6,240,0,0,240)"#,
            r#"(1004,2026-03-02,"2026-03-02 01:00:30","2026-03-02 09:00:00",9,Inbound,呼入,inbound,"Abandoned while ringing",振铃中放弃,f,t,t,f,f,1,20,12,0,0,0,0)"#,
            r#"(1005,2026-03-02,"2026-03-02 02:02:00","2026-03-02 10:00:00",10,Outbound,呼出,outbound,Answered,接通,t,f,t,t,t,1,0,8,100,5,15,120)"#,
            r#"(1006,2026-03-02,,"2026-03-02 11:00:00",11,VideoCall,VideoCall,,FutureCode,FutureCode,f,f,f,f,f,0,,,,,,)"#,
            r#"(1007,2026-03-02,"2026-03-02 04:00:25","2026-03-02 12:00:00",12,Inbound,呼入,inbound,"No answer",无人接听,f,f,t,f,f,2,0,28,0,0,0,0)"#,
            r#"(1008,2026-03-02,"2026-03-02 05:00:10","2026-03-02 13:00:00",13,Inbound,呼入,inbound,"Ended in IVR",IVR中挂机,f,f,f,f,f,0,,,,,,)"#,
        ]
    );
}

#[tokio::test]
async fn agent_daily_sums_each_agents_legs_on_the_day_their_calls_started() {
    let db = seeded().await;

    let agents = rows(
        &db,
        "SELECT ROW(business_date, instance_id, agent_id, agent_name, legs, calls_offered, calls_handled, \
         ring_time, talk_time, hold_time, work_time, handle_time, avg_talk_time, avg_handle_time)::text \
         FROM ccc.agent_daily ORDER BY business_date, agent_id",
    )
    .await;

    assert_eq!(
        agents,
        [
            "(2026-03-01,i1,a1,Alice,1,1,1,5,300,20,30,350,300.0,350.0)",
            "(2026-03-01,i1,a2,Bob,1,1,1,4,200,0,10,210,200.0,210.0)",
            "(2026-03-02,i1,a1,Alice,2,2,2,14,340,5,15,360,170.0,180.0)",
            r#"(2026-03-02,i1,a2,"Bob Li",2,2,0,37,0,0,0,0,,)"#,
        ]
    );
}

#[tokio::test]
async fn skill_group_daily_takes_outcomes_from_the_calls_and_work_from_the_legs_of_each_group() {
    let db = seeded().await;

    let groups = rows(
        &db,
        "SELECT ROW(business_date, instance_id, skill_group_name, offered, answered, abandoned, routed, handled, \
         queue_time_total, ring_time_total, talk_time_total, hold_time_total, work_time_total, handle_time_total, \
         avg_queue_time, avg_ring_time, avg_talk_time, avg_handle_time)::text \
         FROM ccc.skill_group_daily ORDER BY business_date, skill_group_name",
    )
    .await;

    assert_eq!(
        groups,
        [
            "(2026-03-01,i1,Sales,1,1,0,1,1,10,5,300,20,30,350,10.0,5.0,300.0,350.0)",
            "(2026-03-01,i1,Support,1,1,0,1,1,15,4,200,0,10,210,15.0,4.0,200.0,210.0)",
            "(2026-03-02,i1,Sales,2,1,1,1,1,0,6,240,0,0,240,0.0,6.0,240.0,240.0)",
            "(2026-03-02,i1,Support,3,0,1,2,0,20,40,0,0,0,0,10.0,20.0,,)",
        ]
    );
}

#[tokio::test]
async fn changing_the_business_time_zone_moves_calls_and_legs_to_their_new_days() {
    let db = seeded().await;

    execute(
        &db,
        "UPDATE ccc.settings SET business_time_zone = 'UTC'; \
         INSERT INTO ccc.calls (instance_id, contact_id, start_time, contact_type, raw) \
         VALUES ('i2', '1009', '2026-03-02 23:30:00+00', 'Inbound', '{}')",
    )
    .await;

    assert_eq!(
        rows(
            &db,
            "SELECT ROW(business_date, instance_id, contact_type, offered)::text FROM ccc.daily_calls \
             ORDER BY instance_id, business_date, contact_type"
        )
        .await,
        [
            "(2026-03-01,i1,Inbound,3)",
            "(2026-03-02,i1,Inbound,2)",
            "(2026-03-02,i1,Outbound,1)",
            "(2026-03-02,i1,VideoCall,1)",
            "(2026-03-02,i2,Inbound,2)",
        ]
    );
    assert_eq!(
        rows(&db, AGENT_LEGS_PER_DAY).await,
        [
            "(2026-03-01,a1,2)",
            "(2026-03-01,a2,1)",
            "(2026-03-02,a1,1)",
            "(2026-03-02,a2,2)",
        ]
    );
    assert_eq!(
        rows(
            &db,
            "SELECT business_hour::text FROM ccc.calls_enriched WHERE contact_id = '1001'"
        )
        .await,
        ["15"]
    );

    execute(
        &db,
        "UPDATE ccc.settings SET business_time_zone = 'Asia/Shanghai'",
    )
    .await;

    assert_eq!(
        rows(&db, AGENT_LEGS_PER_DAY).await,
        [
            "(2026-03-01,a1,1)",
            "(2026-03-01,a2,1)",
            "(2026-03-02,a1,2)",
            "(2026-03-02,a2,2)",
        ]
    );
    assert_eq!(
        rows(
            &db,
            "SELECT ROW(contact_id, business_date)::text FROM ccc.calls WHERE instance_id = 'i2' ORDER BY 1"
        )
        .await,
        ["(1008,2026-03-02)", "(1009,2026-03-03)"]
    );
}

#[tokio::test]
async fn a_time_zone_that_is_not_an_iana_name_is_refused() {
    let db = TestDb::new().await;

    for zone in ["UTC+8", "CST", "Mars/Olympus_Mons", ""] {
        let result = sqlx::query("UPDATE ccc.settings SET business_time_zone = $1")
            .bind(zone)
            .execute(&db.pool)
            .await;
        assert!(result.is_err(), "{zone:?} was accepted");
    }

    assert_eq!(
        rows(&db, "SELECT business_time_zone FROM ccc.settings").await,
        ["Asia/Shanghai"]
    );
}

#[tokio::test]
async fn leg_totals_follow_legs_as_they_are_updated_deleted_and_truncated() {
    let db = seeded().await;
    const TOTALS_OF_1001: &str = "SELECT ROW(leg_count, queue_time, ring_time, talk_time, hold_time, work_time)::text \
         FROM ccc.calls WHERE contact_id = '1001'";

    execute(
        &db,
        "UPDATE ccc.agent_legs SET talk_time = 250 WHERE contact_id = '1001' AND leg_no = 2",
    )
    .await;
    assert_eq!(rows(&db, TOTALS_OF_1001).await, ["(2,25,9,550,20,40)"]);

    execute(
        &db,
        "DELETE FROM ccc.agent_legs WHERE contact_id = '1001' AND leg_no = 1",
    )
    .await;
    assert_eq!(rows(&db, TOTALS_OF_1001).await, ["(1,15,4,250,0,10)"]);

    execute(&db, "DELETE FROM ccc.agent_legs WHERE contact_id = '1001'").await;
    assert_eq!(rows(&db, TOTALS_OF_1001).await, ["(0,,,,,)"]);

    execute(&db, "TRUNCATE ccc.agent_legs").await;
    assert_eq!(
        rows(
            &db,
            "SELECT count(*)::text FROM ccc.calls WHERE leg_count <> 0 OR talk_time IS NOT NULL"
        )
        .await,
        ["0"]
    );
}

#[tokio::test]
async fn a_call_upserted_with_a_new_start_time_takes_its_legs_to_the_new_day() {
    let db = seeded().await;

    execute(
        &db,
        "INSERT INTO ccc.calls (instance_id, contact_id, start_time, raw) \
         VALUES ('i1', '1003', '2026-03-05 01:00:00+00', '{}') \
         ON CONFLICT (instance_id, contact_id) DO UPDATE SET start_time = EXCLUDED.start_time",
    )
    .await;

    assert_eq!(
        rows(
            &db,
            "SELECT ROW(c.business_date, a.business_date, c.leg_count)::text FROM ccc.calls AS c \
             JOIN ccc.agent_legs AS a USING (instance_id, contact_id) WHERE c.contact_id = '1003'"
        )
        .await,
        ["(2026-03-05,2026-03-05,1)"]
    );
}

/// One record as the service sends it, with `legs` agent legs of 100 s talk each.
fn record(start_ms: i64, legs: usize) -> serde_json::Value {
    let agents: Vec<_> = (1..=legs)
        .map(|i| serde_json::json!({"AgentId": format!("a{i}"), "SkillGroupName": "Sales", "TalkTime": 100}))
        .collect();
    serde_json::json!({
        "ContactId": "2001", "InstanceId": "i1", "StartTime": start_ms, "Duration": 300,
        "ContactType": "Inbound", "ContactDisposition": "Success",
        "CallingNumber": "13812345678", "CalledNumber": "02566806658",
        "Agents": {"CallDetailAgent": agents},
        "Recordings": {"Recording": [{"CallingNumber": "13812345678", "CalledNumber": "02566806658",
                                      "FilePath": "oss://b/13812345678.wav"}]}
    })
}

async fn write(db: &TestDb, item: serde_json::Value) {
    let body = serde_json::json!({"RequestId": "r", "Success": true, "CallDetailRecords": {"List": [item]}});
    let mut page =
        ccc_sync::ccc::wire::parse_list_body(body.to_string().as_bytes()).expect("a page");
    for r in &mut page.records {
        ccc_sync::pii::PhoneNumbers::Masked.apply(r);
    }
    let mut tx = db.pool.begin().await.expect("begin");
    ccc_sync::writer::write_calls(&mut tx, "i1", &page.records)
        .await
        .expect("written");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn what_the_writer_writes_is_dated_totalled_and_masked() {
    let db = TestDb::new().await;
    const CALL: &str = "SELECT ROW(c.business_date, c.leg_count, c.talk_time, \
         (SELECT string_agg(DISTINCT a.business_date::text, ',') FROM ccc.agent_legs AS a \
          WHERE a.contact_id = c.contact_id))::text FROM ccc.calls AS c";

    // 2026-03-01 16:30 UTC is 2 March in Shanghai.
    write(&db, record(1_772_382_600_000, 2)).await;
    assert_eq!(rows(&db, CALL).await, ["(2026-03-02,2,200,2026-03-02)"]);

    // The service corrects the start to 15:30 UTC (1 March in Shanghai) and drops a leg.
    write(&db, record(1_772_379_000_000, 1)).await;
    assert_eq!(rows(&db, CALL).await, ["(2026-03-01,1,100,2026-03-01)"]);

    let stored = rows(
        &db,
        "SELECT c.raw::text || c.calling_number || c.called_number || r.calling_number || r.called_number \
         || r.file_path FROM ccc.calls AS c JOIN ccc.recordings AS r USING (instance_id, contact_id)",
    )
    .await;
    assert_eq!(stored.len(), 1);
    for number in ["13812345678", "02566806658"] {
        assert!(!stored[0].contains(number), "{number} in {}", stored[0]);
    }
    assert!(stored[0].contains("138****5678"), "{}", stored[0]);
}

#[tokio::test]
async fn every_example_query_in_the_warehouse_guide_runs() {
    let db = seeded().await;
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/warehouse.md"))
        .expect("docs/warehouse.md");
    let (_, examples) = guide
        .split_once("## Example queries")
        .expect("an Example queries section");

    let queries: Vec<&str> = examples
        .split("```sql")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(sql, _)| sql.trim()))
        .collect();

    assert_eq!(queries.len(), 10);
    for sql in queries {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}\n{e}"));
    }
}

#[tokio::test]
async fn for_other_writers_legs_and_recordings_belong_to_a_call_as_with_foreign_keys() {
    let db = seeded().await;
    const CHILDREN_OF_1001: &str = "SELECT ((SELECT count(*) FROM ccc.agent_legs WHERE contact_id = '1001') \
         || ',' || (SELECT count(*) FROM ccc.recordings WHERE contact_id = '1001'))";
    assert_ne!(rows(&db, CHILDREN_OF_1001).await, ["0,0"]);

    for orphan in [
        "INSERT INTO ccc.agent_legs (instance_id, contact_id, leg_no) VALUES ('i1', 'no-such-call', 1)",
        "INSERT INTO ccc.recordings (instance_id, contact_id, recording_no) VALUES ('i1', 'no-such-call', 1)",
        "UPDATE ccc.agent_legs SET contact_id = 'no-such-call' WHERE contact_id = '1001'",
    ] {
        let error = sqlx::raw_sql(orphan)
            .execute(&db.pool)
            .await
            .expect_err(orphan);
        let code = error.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("23503"), "{orphan}: {error}");
    }
    let error =
        sqlx::raw_sql("UPDATE ccc.calls SET contact_id = 'renamed' WHERE contact_id = '1001'")
            .execute(&db.pool)
            .await
            .expect_err("a call with legs keeps its key");
    assert!(error.to_string().contains("cannot change"), "{error}");

    execute(&db, "DELETE FROM ccc.calls WHERE contact_id = '1001'").await;
    assert_eq!(rows(&db, CHILDREN_OF_1001).await, ["0,0"]);

    execute(&db, "TRUNCATE ccc.calls").await;
    assert_eq!(
        rows(
            &db,
            "SELECT ((SELECT count(*) FROM ccc.agent_legs) + (SELECT count(*) FROM ccc.recordings))::text"
        )
        .await,
        ["0"]
    );
}
