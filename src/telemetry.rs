//! Log set-up, once per process: JSON lines when the log stream is not a terminal, readable lines when it
//! is, and no colour escapes unless a terminal shows them.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// `info`, without PostgreSQL's chatter (`schema "ccc" already exists, skipping`).
const DEFAULT_FILTER: &str = "info,sqlx::postgres::notice=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON when the log stream is not a terminal, pretty when it is.
    Auto,
    Json,
    Pretty,
}

/// Where log lines go: stdout, unless stdout carries a report for a person (`status`, `check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    fn is_terminal(self) -> bool {
        match self {
            LogStream::Stdout => std::io::stdout().is_terminal(),
            LogStream::Stderr => std::io::stderr().is_terminal(),
        }
    }
}

/// Installs the global subscriber writing to `stream`, and says whether its lines are JSON. The filter
/// comes from `level` (`--log-level`), else `RUST_LOG`, else `DEFAULT_FILTER`.
pub fn init(format: LogFormat, level: Option<&str>, stream: LogStream) -> bool {
    let filter = level
        .map(str::to_owned)
        .or_else(|| std::env::var(EnvFilter::DEFAULT_ENV).ok())
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let terminal = stream.is_terminal();
    let json = match format {
        LogFormat::Auto => !terminal,
        LogFormat::Json => true,
        LogFormat::Pretty => false,
    };
    let writer = match stream {
        LogStream::Stdout => BoxMakeWriter::new(std::io::stdout),
        LogStream::Stderr => BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal)
        .with_writer(writer);
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
    json
}
