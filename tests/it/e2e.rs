//! Simulator → daemon → PostgreSQL, compared with the simulator's ground truth.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use ccc_simulator::{
    self as simulator, AccessKey, DEMO_INSTANCE_ID, Faults, SimulatorConfig, SimulatorHandle,
};
use ccc_sync::scheduler::{self, PassOutcome, Source, SyncError};

use crate::support::TestDb;
use crate::support::ccc;
use crate::support::config::{Config, SourceConfig, UNUSED_DATABASE};
use crate::truth::assert_warehouse_matches;

/// A source on the simulator's demo instance, its rate limit out of the way.
fn demo_source(sim: &SimulatorHandle, name: &str, key: &AccessKey) -> SourceConfig {
    SourceConfig::new(name, DEMO_INSTANCE_ID)
        .endpoint(&sim.endpoint())
        .key(key)
        .max_requests_per_second(10_000.0)
}

fn source(config: SourceConfig) -> Source {
    Config::new(UNUSED_DATABASE).source(config).load_source()
}

fn anchor() -> DateTime<Utc> {
    ccc_sync::window::to_ms(Utc::now())
}

/// Passes until one succeeds: what the daemon does after a failed pass.
async fn pass_until_done(db: &TestDb, src: &Source, now: DateTime<Utc>) -> (PassOutcome, usize) {
    for failed in 0..10 {
        match scheduler::sync_source(&db.pool, src, now, &CancellationToken::new()).await {
            Ok(pass) => return (pass, failed),
            Err(SyncError::Interrupted) => panic!("nothing cancels this test"),
            Err(e) => eprintln!("pass failed, trying again: {e}"),
        }
    }
    panic!("ten passes in a row failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_backfill_over_many_pages_and_chunks_is_exact() {
    let db = TestDb::new().await;
    let at = anchor();
    let sim = ccc::simulator(SimulatorConfig {
        calls: 6_000,
        days: 2,
        anchor: at,
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(at);
    let src = source(
        demo_source(&sim, "demo", &AccessKey::demo())
            .start_from("49h")
            .chunk("4h"),
    );

    let pass = scheduler::sync_source(&db.pool, &src, at, &CancellationToken::new())
        .await
        .expect("pass");

    assert!(
        pass.windows.len() >= 12,
        "many chunks: {}",
        pass.windows.len()
    );
    assert!(
        pass.windows.iter().map(|w| w.pages).sum::<u32>() >= 60,
        "many pages"
    );
    assert_warehouse_matches(&db.pool, &sim.truth(at, None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_once_still_leaves_the_warehouse_exact() {
    let db = TestDb::new().await;
    let at = anchor();
    let faults = Faults {
        throttle: 0.04,
        unavailable: 0.04,
        internal_error: 0.04,
        slow: 0.05,
        slow_for: Duration::from_millis(1_500),
        reset: 0.04,
        truncate: 0.04,
    };
    let sim = ccc::simulator(SimulatorConfig {
        calls: 3_000,
        days: 1,
        anchor: at,
        faults,
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(at);
    // Each pass re-reads the whole day (the lookback covers it), so passes repeat until every kind of
    // fault has struck at least once; the warehouse must stay exact through all of them.
    let src = source(
        demo_source(&sim, "demo", &AccessKey::demo())
            .start_from("25h")
            .lookback("26h")
            .chunk("3h")
            .read_timeout("400ms")
            .retry_for("30s"),
    );
    let mut failed_passes = 0;
    let mut passes = 0;
    let all_struck = |f: &simulator::FaultCounts| {
        [
            f.throttle,
            f.unavailable,
            f.internal_error,
            f.slow,
            f.reset,
            f.truncate,
        ]
        .iter()
        .all(|n| *n > 0)
    };
    while passes < 30 && (passes == 0 || !all_struck(&sim.requests().faults)) {
        let (_, failed) = pass_until_done(&db, &src, at).await;
        failed_passes += failed;
        passes += 1;
    }

    let f = sim.requests().faults;
    assert!(all_struck(&f), "every kind of fault was injected: {f:?}");
    eprintln!(
        "faults injected: {f:?}; {passes} passes; passes that failed and were retried: {failed_passes}"
    );
    assert_warehouse_matches(&db.pool, &sim.truth(at, None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_arrivals_late_long_calls_and_late_surveys_are_all_caught() {
    let db = TestDb::new().await;
    let t0 = anchor();
    let config = SimulatorConfig {
        calls: 2_000,
        days: 1,
        anchor: t0,
        live_rate: Some(2.0),
        write_delay: Duration::from_secs(5),
        ..SimulatorConfig::default()
    };
    let sim = ccc::simulator(config).await;
    let src = source(
        demo_source(&sim, "demo", &AccessKey::demo())
            .start_from("25h")
            .lookback("2h"),
    );
    let mut late_total = 0;
    let mut now = t0;
    for step in 0..12 {
        sim.set_now(now);
        let (pass, _) = pass_until_done(&db, &src, now).await;
        if step > 0 {
            late_total += pass.written().calls;
        }
        now += TimeDelta::minutes(10);
    }
    let last = now - TimeDelta::minutes(10);

    let truth = sim.truth(last, None);
    let new_calls = truth
        .iter()
        .filter(|r| {
            r["StartTime"]
                .as_i64()
                .is_some_and(|t| t > t0.timestamp_millis())
        })
        .count();
    assert!(
        new_calls > 1_000,
        "live calls arrived over the passes: {new_calls}"
    );
    assert!(
        late_total as usize > new_calls,
        "later passes wrote new, late and changed calls: {late_total}"
    );
    assert_warehouse_matches(&db.pool, &truth).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agent_scoped_sources_whose_calls_overlap_land_each_call_once() {
    let db = TestDb::new().await;
    let at = anchor();
    let agents = simulator::agent_ids(0);
    let keys: Vec<AccessKey> = agents[..2]
        .iter()
        .enumerate()
        .map(|(i, agent)| AccessKey {
            id: format!("LTAI-agent-{i}"),
            secret: format!("secret-{i}"),
            agent: Some(agent.clone()),
        })
        .collect();
    let sim = ccc::simulator(SimulatorConfig {
        calls: 4_000,
        days: 1,
        anchor: at,
        keys: keys.clone(),
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(at);
    let sources: Vec<Source> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| source(demo_source(&sim, &format!("agent-{i}"), k).start_from("25h")))
        .collect();

    let results = scheduler::sync_once(&db.pool, &sources, at, &CancellationToken::new()).await;

    let seen: Vec<u64> = results
        .iter()
        .map(|r| r.as_ref().expect("pass").records())
        .collect();
    let mut union: Vec<Value> = Vec::new();
    for agent in &agents[..2] {
        for record in sim.truth(at, Some(agent)) {
            if !union.iter().any(|u| u["ContactId"] == record["ContactId"]) {
                union.push(record);
            }
        }
    }
    let overlap = seen.iter().sum::<u64>() as usize - union.len();
    assert!(
        overlap > 0,
        "the two agents share calls: seen {seen:?}, distinct {}",
        union.len()
    );
    assert_warehouse_matches(&db.pool, &union).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exactness_check_notices_a_lost_leg_a_changed_call_and_an_extra_call() {
    use futures::FutureExt as _;
    let db = TestDb::new().await;
    let at = anchor();
    let sim = ccc::simulator(SimulatorConfig {
        calls: 300,
        days: 1,
        anchor: at,
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(at);
    let src = source(demo_source(&sim, "demo", &AccessKey::demo()).start_from("25h"));
    scheduler::sync_source(&db.pool, &src, at, &CancellationToken::new())
        .await
        .expect("pass");
    let truth = sim.truth(at, None);
    assert_warehouse_matches(&db.pool, &truth).await;

    for tamper in [
        "DELETE FROM ccc.agent_legs WHERE (contact_id, leg_no) IN (SELECT contact_id, leg_no FROM ccc.agent_legs LIMIT 1)",
        "UPDATE ccc.calls SET raw = raw || '{\"Satisfaction\": 9}' WHERE contact_id = (SELECT min(contact_id) FROM ccc.calls)",
        "INSERT INTO ccc.calls (instance_id, contact_id, start_time, raw) VALUES ('x', 'EXTRA', now(), '{}')",
    ] {
        let mut tx = db.pool.begin().await.expect("tx");
        sqlx::query(tamper).execute(&mut *tx).await.expect("tamper");
        let check = std::panic::AssertUnwindSafe(async {
            let conn: &mut sqlx::PgConnection = &mut tx;
            crate::truth::assert_connection_matches(conn, &truth).await;
        })
        .catch_unwind()
        .await;
        assert!(check.is_err(), "the check missed: {tamper}");
        tx.rollback().await.expect("rollback");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_arriving_on_the_real_clock_while_pages_are_read_are_neither_lost_nor_doubled() {
    let db = TestDb::new().await;
    // Live calls started since t0, ten minutes ago: minutes-long calls keep ending, and so appearing, while
    // the pass reads its pages.
    let t0 = anchor() - TimeDelta::minutes(10);
    let config = SimulatorConfig {
        calls: 500,
        days: 1,
        anchor: t0,
        live_rate: Some(20.0),
        write_delay: Duration::ZERO,
        ..SimulatorConfig::default()
    };
    let sim = ccc::simulator(config).await;
    let src = source(
        demo_source(&sim, "demo", &AccessKey::demo())
            .start_from("25h")
            .page_size(20),
    );

    let first = scheduler::sync_source(&db.pool, &src, anchor(), &CancellationToken::new())
        .await
        .expect("pass");
    let end = anchor();
    sim.set_now(end);
    scheduler::sync_source(&db.pool, &src, end, &CancellationToken::new())
        .await
        .expect("pass");

    let arrived = sim
        .truth(end, None)
        .iter()
        .filter(|r| {
            r["StartTime"]
                .as_i64()
                .is_some_and(|t| t > t0.timestamp_millis())
        })
        .count();
    eprintln!(
        "{arrived} calls arrived while syncing; the first pass dropped {} duplicates",
        first.windows.iter().map(|w| w.duplicates).sum::<u64>()
    );
    assert!(arrived > 0, "calls arrived during the pass");
    assert_warehouse_matches(&db.pool, &sim.truth(end, None)).await;
}
