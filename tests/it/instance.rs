//! Whole-instance sources (`api = "instance"` on CCC 1.0, `api = "ccc2"` on CCC 2.0) against the simulator,
//! compared with its ground truth as each action renders it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use ccc_simulator::{
    self as simulator, AccessKey, DEMO_INSTANCE_ID, Faults, SimulatorConfig, SimulatorHandle,
    TruthView,
};
use ccc_sync::scheduler::{self, PassOutcome, Source, SyncError};

use crate::support::TestDb;
use crate::support::ccc;
use crate::support::config::{Config, SourceConfig, UNUSED_DATABASE};
use crate::truth::{assert_ccc2_matches, assert_warehouse_matches};

fn anchor() -> DateTime<Utc> {
    ccc_sync::window::to_ms(Utc::now())
}

/// A source of `api` on the simulator's demo instance with its admin key, its rate limit out of the way.
fn whole_instance(sim: &SimulatorHandle, name: &str, api: &str) -> SourceConfig {
    SourceConfig::new(name, DEMO_INSTANCE_ID)
        .endpoint(&sim.endpoint())
        .key(&AccessKey::demo())
        .api(api)
        .max_requests_per_second(10_000.0)
}

fn source(config: SourceConfig) -> Source {
    Config::new(UNUSED_DATABASE).source(config).load_source()
}

async fn simulator(calls: usize, days: u32, at: DateTime<Utc>) -> SimulatorHandle {
    simulator_with(SimulatorConfig {
        calls,
        days,
        anchor: at,
        ..SimulatorConfig::default()
    })
    .await
}

/// One day of `calls` whose 2.0 list serves at most `max_page_number` pages per query.
async fn dense(calls: usize, max_page_number: u32, at: DateTime<Utc>) -> SimulatorHandle {
    simulator_with(SimulatorConfig {
        calls,
        days: 1,
        anchor: at,
        max_page_number,
        ..SimulatorConfig::default()
    })
    .await
}

async fn simulator_with(config: SimulatorConfig) -> SimulatorHandle {
    let at = config.anchor;
    let sim = ccc::simulator(config).await;
    sim.set_now(at);
    sim
}

async fn pass(db: &TestDb, src: &Source, at: DateTime<Utc>) -> PassOutcome {
    scheduler::sync_source(&db.pool, src, at, &CancellationToken::new())
        .await
        .expect("pass")
}

/// Passes until one succeeds: what the daemon does after a failed pass.
async fn pass_until_done(db: &TestDb, src: &Source, at: DateTime<Utc>) -> usize {
    for failed in 0..20 {
        match scheduler::sync_source(&db.pool, src, at, &CancellationToken::new()).await {
            Ok(_) => return failed,
            Err(SyncError::Interrupted) => panic!("nothing cancels this test"),
            Err(e) => eprintln!("pass failed, trying again: {e}"),
        }
    }
    panic!("twenty passes in a row failed");
}

async fn apis(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT api, count(*) FROM ccc.calls GROUP BY api ORDER BY api")
        .fetch_all(pool)
        .await
        .expect("apis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_backfill_of_several_days_is_exact() {
    let db = TestDb::new().await;
    let at = anchor();
    let sim = simulator(4_000, 3, at).await;
    let src = source(whole_instance(&sim, "center-1", "instance").start_from("73h"));

    let outcome = pass(&db, &src, at).await;

    assert!(outcome.windows.len() >= 12, "{}", outcome.windows.len());
    let truth = sim.truth_view(at, None, TruthView::Instance);
    assert!(truth.len() > 3_000, "{}", truth.len());
    assert_warehouse_matches(&db.pool, &truth).await;
    assert_eq!(
        apis(&db.pool).await,
        [("instance".to_owned(), truth.len() as i64)]
    );
    let stats = sim.requests();
    assert_eq!(stats.requests_for("ListRecentCallRecords"), 0);
    assert!(stats.requests_for("ListCallDetailRecords") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ccc2_backfill_with_call_details_is_exact_at_two_requests_per_new_call() {
    let db = TestDb::new().await;
    let at = anchor();
    let sim = simulator(1_500, 2, at).await;
    let src = source(whole_instance(&sim, "center-2", "ccc2").start_from("49h"));

    let first = pass(&db, &src, at).await;

    let truth = sim.truth_view(at, None, TruthView::Ccc2);
    assert_ccc2_matches(&db.pool, &truth).await;
    assert_eq!(first.details.calls, truth.len() as u64);
    let stats = sim.requests();
    assert_eq!(
        stats.requests_for("GetCallDetailRecord"),
        truth.len() as u64
    );
    assert_eq!(stats.requests_for("ListMonoRecordings"), truth.len() as u64);
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.calls WHERE details_pending")
        .fetch_one(&db.pool)
        .await
        .expect("pending");
    assert_eq!(pending, 0);

    let again = pass(&db, &src, at).await;
    assert_eq!(
        again.details.calls, 0,
        "unchanged calls cost no more requests"
    );
    assert_eq!(
        sim.requests().requests_for("GetCallDetailRecord"),
        truth.len() as u64
    );
    assert_eq!(
        apis(&db.pool).await,
        [("ccc2".to_owned(), truth.len() as i64)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_denser_than_one_query_reaches_are_split_until_they_fit_and_stay_exact() {
    let db = TestDb::new().await;
    let at = anchor();
    // Two pages of 100 per query: 6-hour windows of about 500 calls must be split twice or more.
    let sim = dense(2_000, 2, at).await;
    let src = source(
        whole_instance(&sim, "center-2", "ccc2")
            .start_from("25h")
            .number("max_page_number", 2)
            .text("call_details", "off"),
    );

    let outcome = pass(&db, &src, at).await;

    let reachable = 2 * 100;
    assert!(
        outcome.windows.iter().any(|w| w.records > reachable),
        "a window held more than one query reaches: {:?}",
        outcome
            .windows
            .iter()
            .map(|w| w.records)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        sim.requests().errors_with("InvalidParameter"),
        0,
        "split from TotalCount, before any page number was refused"
    );
    let truth = sim.truth_view(at, None, TruthView::Ccc2);
    let stored: Vec<(String, Value)> =
        sqlx::query_as("SELECT contact_id, raw FROM ccc.calls ORDER BY contact_id")
            .fetch_all(&db.pool)
            .await
            .expect("calls");
    let mut expected: Vec<(String, Value)> = truth
        .iter()
        .map(|c| {
            let record = c["Record"].clone();
            (record["ContactId"].as_str().expect("id").to_owned(), record)
        })
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        stored == expected,
        "{} stored, {} expected",
        stored.len(),
        expected.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_number_the_service_refuses_lowers_the_limit_and_the_window_is_split() {
    let db = TestDb::new().await;
    let at = anchor();
    let sim = dense(1_200, 2, at).await;
    // The source does not know the limit: the service's refusal teaches it.
    let src = source(
        whole_instance(&sim, "center-2", "ccc2")
            .start_from("25h")
            .number("max_page_number", 0),
    );

    pass(&db, &src, at).await;

    assert!(sim.requests().errors_with("InvalidParameter") >= 1);
    assert_ccc2_matches(&db.pool, &sim.truth_view(at, None, TruthView::Ccc2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_once_leaves_a_ccc2_warehouse_with_details_exact() {
    let db = TestDb::new().await;
    let at = anchor();
    // Random throttling holds the adaptive rate near 8 requests/s, so the calls are few: two requests each.
    let sim = simulator_with(SimulatorConfig {
        calls: 120,
        days: 1,
        anchor: at,
        faults: Faults {
            throttle: 0.04,
            unavailable: 0.04,
            internal_error: 0.04,
            slow: 0.02,
            slow_for: Duration::from_millis(1_500),
            reset: 0.04,
            truncate: 0.04,
        },
        ..SimulatorConfig::default()
    })
    .await;
    let src = source(
        whole_instance(&sim, "center-2", "ccc2")
            .start_from("25h")
            .read_timeout("400ms")
            .retry_for("30s"),
    );

    pass_until_done(&db, &src, at).await;

    let f = sim.requests().faults;
    assert!(
        [
            f.throttle,
            f.unavailable,
            f.internal_error,
            f.reset,
            f.truncate
        ]
        .iter()
        .all(|n| *n > 0),
        "every fault struck: {f:?}"
    );
    assert_ccc2_matches(&db.pool, &sim.truth_view(at, None, TruthView::Ccc2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_details_round_neither_loses_nor_repeats_committed_work() {
    let db = TestDb::new().await;
    let at = anchor();
    let sim = simulator(600, 1, at).await;
    let src = source(whole_instance(&sim, "center-2", "ccc2").start_from("25h"));
    let cancel = CancellationToken::new();
    // Shutdown after the first batch of details committed: the rest stays pending.
    let stop = cancel.clone();
    let watch = {
        let pool = db.pool.clone();
        tokio::spawn(async move {
            loop {
                let done: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM ccc.calls WHERE NOT details_pending")
                        .fetch_one(&pool)
                        .await
                        .unwrap_or(0);
                if done > 0 {
                    stop.cancel();
                    return done;
                }
                tokio::task::yield_now().await;
            }
        })
    };

    let interrupted = scheduler::sync_source(&db.pool, &src, at, &cancel).await;
    let done_before = watch.await.expect("watch");

    assert!(
        matches!(interrupted, Err(SyncError::Interrupted)),
        "{interrupted:?}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::new(&db.url)
        .source(whole_instance(&sim, "center-2", "ccc2"))
        .write(dir.path(), "c.toml");
    let status = crate::support::daemon::output({
        let mut command = crate::support::daemon::ccc_sync(&config);
        command.arg("status");
        command
    })
    .await;
    let said = crate::support::daemon::printed(&status);
    assert!(
        said.contains("call(s) still to fetch"),
        "status shows the details backlog: {said}"
    );
    let requested = sim.requests().requests_for("GetCallDetailRecord");
    let resumed = pass(&db, &src, at).await;
    let truth = sim.truth_view(at, None, TruthView::Ccc2);
    assert_ccc2_matches(&db.pool, &truth).await;
    assert!(done_before > 0 && (resumed.details.calls as usize) < truth.len());
    assert!(
        sim.requests().requests_for("GetCallDetailRecord") - requested <= resumed.details.calls,
        "the resumed pass asked only for the calls still pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_source_and_an_agent_source_on_one_instance_land_each_call_once() {
    let db = TestDb::new().await;
    let at = anchor();
    let agent = simulator::agent_ids(0)[0].clone();
    let agent_key = AccessKey {
        id: "LTAI-agent-0".to_owned(),
        secret: "agent-secret".to_owned(),
        agent: Some(agent.clone()),
    };
    let sim = simulator_with(SimulatorConfig {
        calls: 2_000,
        days: 1,
        anchor: at,
        keys: vec![AccessKey::demo(), agent_key.clone()],
        ..SimulatorConfig::default()
    })
    .await;
    let center = source(whole_instance(&sim, "center-1", "instance").start_from("25h"));
    let mine = source(
        SourceConfig::new("agent-0", DEMO_INSTANCE_ID)
            .endpoint(&sim.endpoint())
            .key(&agent_key)
            .max_requests_per_second(10_000.0)
            .start_from("25h"),
    );

    pass(&db, &mine, at).await;
    pass(&db, &center, at).await;
    pass(&db, &mine, at).await;

    let truth = sim.truth_view(at, None, TruthView::Instance);
    assert!(!sim.truth(at, Some(&agent)).is_empty());
    assert_warehouse_matches(&db.pool, &truth).await;
    assert_eq!(
        apis(&db.pool).await,
        [("instance".to_owned(), truth.len() as i64)]
    );
}

/// What the daily view says per day and kind of call (by label: 1.0's `PredictiveDial` is 2.0's
/// `Predictive`), without the figures only one API version has (after-call work, queue time outside a leg).
async fn daily(pool: &PgPool) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT jsonb_build_object('day', business_date, 'kind', contact_type_label_en,
                 'offered', sum(offered), 'answered', sum(answered), 'abandoned', sum(abandoned),
                 'routed', sum(routed), 'handled', sum(handled), 'talk', sum(talk_time_total),
                 'duration', sum(duration_total), 'rated', sum(rated))
         FROM ccc.daily_calls GROUP BY business_date, contact_type_label_en ORDER BY 1::text",
    )
    .fetch_all(pool)
    .await
    .expect("daily_calls")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_views_count_the_same_calls_the_same_through_2017_and_through_2020() {
    let at = anchor();
    let sim = simulator(2_000, 2, at).await;
    let through_2017 = TestDb::new().await;
    let through_2020 = TestDb::new().await;
    let agent_api = source(
        SourceConfig::new("center", DEMO_INSTANCE_ID)
            .endpoint(&sim.endpoint())
            .key(&AccessKey::demo())
            .max_requests_per_second(10_000.0)
            .start_from("49h"),
    );
    let ccc2 = source(whole_instance(&sim, "center", "ccc2").start_from("49h"));

    pass(&through_2017, &agent_api, at).await;
    pass(&through_2020, &ccc2, at).await;

    let (old, new) = (
        daily(&through_2017.pool).await,
        daily(&through_2020.pool).await,
    );
    assert!(old.len() >= 2, "{old:?}");
    assert_eq!(old, new);
    let talk = |pool: PgPool| async move {
        sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT agent_id, sum(coalesce(talk_time, 0))::int8, count(*) FROM ccc.agent_legs
             GROUP BY agent_id ORDER BY agent_id",
        )
        .fetch_all(&pool)
        .await
        .expect("legs")
    };
    assert_eq!(
        talk(through_2017.pool.clone()).await,
        talk(through_2020.pool.clone()).await,
        "each agent's legs and talk time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_fix_for_a_wrong_instance_and_for_agent_keys_on_a_whole_instance_api() {
    let db = TestDb::new().await;
    let at = anchor();
    let agent_key = AccessKey {
        id: "LTAI-agent-0".to_owned(),
        secret: "agent-secret".to_owned(),
        agent: Some(simulator::agent_ids(0)[0].clone()),
    };
    let sim = simulator_with(SimulatorConfig {
        calls: 100,
        days: 1,
        anchor: at,
        keys: vec![AccessKey::demo(), agent_key.clone()],
        ..SimulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong_instance = SourceConfig::new("center-2", "ccc-nope")
        .endpoint(&sim.endpoint())
        .key(&AccessKey::demo())
        .api("ccc2");
    let agent_keys = whole_instance(&sim, "center-1", "instance").key(&agent_key);
    let config = Config::new(&db.url)
        .source(wrong_instance)
        .source(agent_keys)
        .write(dir.path(), "c.toml");

    let out = crate::support::daemon::output({
        let mut command = crate::support::daemon::ccc_sync(&config);
        command.arg("check");
        command
    })
    .await;

    let all = crate::support::daemon::printed(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("NotExists.InstanceId") && all.contains("instance_id names no instance"),
        "{all}"
    );
    assert!(
        all.contains("Forbidden.NoPermission") && all.contains("ccc:ListCallDetailRecords"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_length_the_service_refuses_is_split_and_remembered() {
    let db = TestDb::new().await;
    let at = anchor();
    // The service allows one hour per query; the source asks for six until told.
    let sim = simulator_with(SimulatorConfig {
        calls: 1_000,
        days: 1,
        anchor: at,
        max_window: Duration::from_secs(3_600),
        ..SimulatorConfig::default()
    })
    .await;
    let src = source(
        whole_instance(&sim, "center-1", "instance")
            .start_from("25h")
            .text("max_window", "off"),
    );

    pass(&db, &src, at).await;

    let refused = sim.requests().errors_with("InvalidParameter");
    assert!(refused >= 1, "the service refused a window");
    assert!(
        refused <= 3,
        "the lowered limit is kept for the next windows: {refused} refusals"
    );
    assert_warehouse_matches(&db.pool, &sim.truth_view(at, None, TruthView::Instance)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_that_may_not_be_split_further_and_is_still_too_dense_fails_naming_it_and_its_count()
 {
    let db = TestDb::new().await;
    let at = anchor();
    let sim = dense(1_000, 1, at).await;
    let src = source(
        whole_instance(&sim, "center-2", "ccc2")
            .start_from("25h")
            .chunk("1d")
            .number("max_page_number", 1)
            .text("min_window", "1d"),
    );

    let failed = scheduler::sync_source(&db.pool, &src, at, &CancellationToken::new()).await;

    let Err(e) = failed else {
        panic!("a window over the limit was stored: {failed:?}")
    };
    let said = e.to_string();
    assert_eq!(e.code(), "WindowTooDense", "{said}");
    assert!(
        said.contains("holds at least") && said.contains("more than one query reaches (100)"),
        "{said}"
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM ccc.calls")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(stored, 0, "never a truncated window");
}
