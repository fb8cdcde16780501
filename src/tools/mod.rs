//! The tools around the product, which only the binary carries: `ccc-sync demo` and `ccc-sync bench`, both
//! run against the built-in simulator (the `ccc-simulator` crate). The sync library knows nothing of them.

pub mod bench;
pub mod demo;

use std::time::Duration;

use anyhow::Context as _;
use ccc_simulator::{AccessKey, DEMO_INSTANCE_ID, SimulatorConfig, SimulatorHandle};
use ccc_sync::ccc::{Api, ClientSettings};
use ccc_sync::config::{QueryLimits, SourceCredentials, SourceSettings, StartFrom};
use chrono::{DateTime, Utc};
use secrecy::SecretString;

/// The PostgreSQL server a tool works on, named by a URL of any database on it the role may connect to.
#[derive(Debug, Clone, clap::Args)]
pub struct Server {
    /// A database on the PostgreSQL server to use; the tool creates its own databases beside it.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    pub database_url: String,
}

/// The simulator on a loopback port: `calls` over `days` on its demo instance, signed with its demo key,
/// each call visible as soon as it ends, and its data clock standing still at `anchor`, so that what a sync
/// sees and the ground truth are one instant.
pub async fn start_simulator(
    calls: usize,
    days: u32,
    anchor: DateTime<Utc>,
) -> anyhow::Result<SimulatorHandle> {
    let config = SimulatorConfig {
        calls,
        days,
        keys: vec![AccessKey::demo()],
        instance_ids: vec![DEMO_INSTANCE_ID.to_owned()],
        write_delay: Duration::ZERO,
        anchor,
        ..SimulatorConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on loopback")?;
    let sim = ccc_simulator::start(config, listener).await?;
    sim.set_now(anchor);
    Ok(sim)
}

/// A source `name` of `api` on the simulator at `endpoint`: its demo instance and (admin) key, 6-hour windows
/// of 100-record pages within the API's documented limits, call details where the API needs them, a ceiling
/// no simulator reaches, no reconciliation.
pub fn simulator_source(
    name: &str,
    api: Api,
    endpoint: &str,
    start_from: StartFrom,
    lookback: Duration,
) -> anyhow::Result<SourceSettings> {
    let key = AccessKey::demo();
    Ok(SourceSettings {
        name: name.to_owned(),
        api,
        instance_id: DEMO_INSTANCE_ID.to_owned(),
        client: ClientSettings {
            endpoint: reqwest::Url::parse(endpoint)?,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
        },
        credentials: SourceCredentials::Keys {
            access_key_id: key.id,
            access_key_secret: SecretString::from(key.secret),
        },
        start_from,
        lookback,
        interval: Duration::from_secs(60),
        chunk: CHUNK,
        page_size: 100,
        limits: QueryLimits::documented(api),
        call_details: !api.has_call_details(),
        max_requests_per_second: 10_000.0,
        retry_for: Duration::from_secs(30),
        reconcile_every: None,
        reconcile_span: Duration::from_secs(48 * 3_600),
    })
}

/// The window length of the tools' sources, the configuration's default.
pub const CHUNK: Duration = Duration::from_secs(6 * 3_600);
