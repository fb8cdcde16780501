//! The tools around the product, which only the binary carries: `ccc-sync demo` and `ccc-sync bench`, both
//! run against the built-in simulator (the `ccc-simulator` crate). The sync library knows nothing of them.

pub mod bench;
pub mod demo;

use std::time::Duration;

use ccc_simulator::{AccessKey, DEMO_INSTANCE_ID};
use ccc_sync::ccc::ClientSettings;
use ccc_sync::config::{SourceCredentials, SourceSettings, StartFrom};
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

/// A source `name` on the simulator at `endpoint`: its demo instance and key, 6-hour windows of 100-record
/// pages, a ceiling no simulator reaches, no reconciliation.
pub fn simulator_source(
    name: &str,
    endpoint: &str,
    start_from: StartFrom,
    lookback: Duration,
) -> anyhow::Result<SourceSettings> {
    let key = AccessKey::demo();
    Ok(SourceSettings {
        name: name.to_owned(),
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
        max_requests_per_second: 10_000.0,
        retry_for: Duration::from_secs(30),
        reconcile_every: None,
        reconcile_span: Duration::from_secs(48 * 3_600),
    })
}

/// The window length of the tools' sources, the configuration's default.
pub const CHUNK: Duration = Duration::from_secs(6 * 3_600);
