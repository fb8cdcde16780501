//! Log set-up, once per process: JSON lines when stdout is not a terminal, readable lines when it is.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// `info`, without PostgreSQL's chatter (`schema "ccc" already exists, skipping`).
const DEFAULT_FILTER: &str = "info,sqlx::postgres::notice=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, pretty when it is.
    Auto,
    Json,
    Pretty,
}

/// Installs the global subscriber. The filter comes from `level` (`--log-level`), else `RUST_LOG`, else
/// `DEFAULT_FILTER`.
pub fn init(format: LogFormat, level: Option<&str>) {
    let filter = level
        .map(str::to_owned)
        .or_else(|| std::env::var(EnvFilter::DEFAULT_ENV).ok())
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let json = match format {
        LogFormat::Auto => !std::io::stdout().is_terminal(),
        LogFormat::Json => true,
        LogFormat::Pretty => false,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let installed = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // A second call (tests) keeps the first subscriber.
    drop(installed);
}
