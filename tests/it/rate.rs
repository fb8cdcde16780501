//! The adaptive request rate against a simulator that really limits the rate (`max_rps`): the backfill is
//! exact, few requests are throttled, and the rate settles near the server's limit, far below the ceiling.

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use ccc_simulator::{self as simulator, AccessKey, DEMO_INSTANCE_ID, SimulatorConfig};
use ccc_sync::scheduler::{self, Source};

use crate::support::TestDb;
use crate::truth::assert_warehouse_matches;

/// Low enough that a debug build on a busy machine, one request at a time, can still exceed it.
const SERVER_LIMIT: u32 = 8;
const CEILING: f64 = 100.0;

fn source(endpoint: &str, extra: &str) -> Source {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    let key = AccessKey::demo();
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = \"postgres://unused@127.0.0.1/x\"\n[[sources]]\nname = \"limited\"\n\
             instance_id = \"{DEMO_INSTANCE_ID}\"\nendpoint = \"{endpoint}\"\naccess_key_id = \"{}\"\n\
             access_key_secret = \"{}\"\nmax_requests_per_second = {CEILING}\n{extra}\n",
            key.id, key.secret
        ),
    )
    .expect("config");
    let settings = ccc_sync::config::load(&path, &[]).expect("config");
    Source::new(settings.sources.into_iter().next().expect("source")).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_against_a_rate_limited_server_settles_near_its_limit_and_is_exact() {
    let db = TestDb::new().await;
    let at = ccc_sync::window::to_ms(Utc::now());
    let sim = simulator::start(
        SimulatorConfig {
            calls: 2_000,
            days: 1,
            anchor: at,
            max_rps: Some(SERVER_LIMIT),
            ..SimulatorConfig::default()
        },
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
    )
    .await
    .expect("simulator");
    sim.set_now(at);
    let src = source(
        &sim.endpoint(),
        "start_from = \"25h\"\nchunk = \"3h\"\npage_size = 20\nretry_for = \"1m\"",
    );

    let pass = scheduler::sync_source(&db.pool, &src, at, &CancellationToken::new())
        .await
        .expect("the backfill completes despite the throttling");

    let stats = sim.requests();
    let pages: u32 = pass.windows.iter().map(|w| w.pages).sum();
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
    assert_warehouse_matches(&db.pool, &sim.truth(at, None)).await;
}
