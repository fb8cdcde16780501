//! The adaptive request rate against a simulator that really limits the rate (`max_rps`): the backfill is
//! exact, few requests are throttled, and the rate settles near the server's limit, far below the ceiling.
//! And the pages of a window requested ahead, a few at once, each once.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use ccc_simulator::{AccessKey, DEMO_INSTANCE_ID, Faults, RequestStats, SimulatorConfig};
use ccc_sync::fetcher::PAGES_AHEAD;
use ccc_sync::scheduler::{self, Source};

use crate::support::config::{Config, SourceConfig, UNUSED_DATABASE};
use crate::support::{TestDb, ccc};
use crate::truth::assert_warehouse_matches;

/// Low enough that a debug build on a busy machine, one request at a time, can still exceed it.
const SERVER_LIMIT: u32 = 8;
const CEILING: f64 = 100.0;

/// The limited source on `endpoint`, its ceiling far above the server's limit.
fn source(endpoint: &str) -> Source {
    let source = SourceConfig::new("limited", DEMO_INSTANCE_ID)
        .endpoint(endpoint)
        .key(&AccessKey::demo())
        .max_requests_per_second(CEILING)
        .start_from("25h")
        .chunk("3h")
        .page_size(20)
        .retry_for("1m");
    Config::new(UNUSED_DATABASE).source(source).load_source()
}

/// One day of `calls` calls on a simulator with `server`'s limits, backfilled by the limited source and
/// checked against the truth: the source, the pages it fetched and what the simulator counted.
async fn backfill(calls: usize, server: SimulatorConfig) -> (Source, u32, RequestStats) {
    let db = TestDb::new().await;
    let at = ccc_sync::window::to_ms(Utc::now());
    let sim = ccc::simulator(SimulatorConfig {
        calls,
        days: 1,
        anchor: at,
        ..server
    })
    .await;
    sim.set_now(at);
    let src = source(&sim.endpoint());

    let pass = scheduler::sync_source(&db.pool, &src, at, &CancellationToken::new())
        .await
        .expect("the backfill completes");

    let stats = sim.requests();
    let pages: u32 = pass.windows.iter().map(|w| w.pages).sum();
    assert_warehouse_matches(&db.pool, &sim.truth(at, None)).await;
    (src, pages, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_against_a_rate_limited_server_settles_near_its_limit_and_is_exact() {
    let server = SimulatorConfig {
        max_rps: Some(SERVER_LIMIT),
        ..SimulatorConfig::default()
    };

    let (src, pages, stats) = backfill(2_000, server).await;

    let throttled = stats.rate_limited;
    let share = throttled as f64 / stats.total as f64;
    let rate = src.fetcher.request_rate();
    eprintln!(
        "{pages} pages, {} requests, {throttled} throttled ({:.1}%), rate now {rate:.1}/s",
        stats.total,
        share * 100.0
    );
    assert!(pages >= 80, "enough requests to converge: {pages} pages");
    assert_eq!(stats.ok, u64::from(pages), "every page was served once");
    assert_eq!(stats.total, stats.ok + throttled, "no other error");
    assert!(
        throttled >= 1,
        "the rate was raised until the server pushed back"
    );
    assert!(
        share < 0.15,
        "few requests were throttled: {throttled} of {}",
        stats.total
    );
    assert!(
        (0.5 * f64::from(SERVER_LIMIT)..=1.5 * f64::from(SERVER_LIMIT)).contains(&rate),
        "the rate settled near the server's limit ({SERVER_LIMIT}/s), far below the ceiling ({CEILING}/s): {rate}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_of_many_pages_is_requested_a_few_pages_at_once_and_each_page_once() {
    // Every answer takes a while, so requests ahead of the one being answered are in flight together.
    let server = SimulatorConfig {
        faults: Faults {
            slow: 1.0,
            slow_for: Duration::from_millis(100),
            ..Faults::default()
        },
        ..SimulatorConfig::default()
    };

    let (_, pages, stats) = backfill(1_200, server).await;

    assert!(pages >= 60, "{pages} pages");
    assert_eq!(
        stats.ok,
        u64::from(pages),
        "no page requested past the last one"
    );
    assert_eq!(stats.total, stats.ok, "{stats:?}");
    assert!(
        (2..=PAGES_AHEAD as u64).contains(&stats.max_in_flight),
        "up to {PAGES_AHEAD} requests at once: {stats:?}"
    );
}
