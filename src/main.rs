//! The `ccc-sync` command line: parse arguments, set up logs, load the config, call the library.
//!
//! Stdout holds one format. `status`, `check`, `demo` and `bench` print a report for a person there, so
//! their logs go to stderr; every other command logs to stdout, and with JSON logs its summary is one more
//! JSON line. A runtime failure is told once: a JSON `error` event, or a `ccc-sync: …` line on stderr with
//! readable logs. A usage or configuration error is a `ccc-sync: …` line on stderr in either format.
//!
//! Exit status: 0 success, 1 a runtime failure (database, API, a failed source), 2 a usage or
//! configuration error (nothing was touched), 130 a second interrupt.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

mod tools;

use ccc_sync::app::{self, App};
use ccc_sync::startup;
use ccc_sync::telemetry::{self, LogFormat, LogStream};

#[derive(Parser)]
#[command(
    name = "ccc-sync",
    version,
    about = "Keeps a PostgreSQL warehouse in step with Alibaba Cloud CCC call records"
)]
struct Cli {
    /// The TOML configuration file.
    #[arg(
        long,
        global = true,
        env = "CCC_SYNC_CONFIG",
        default_value = "ccc-sync.toml"
    )]
    config: PathBuf,
    /// Log level or filter (overrides RUST_LOG), e.g. `debug` or `info,ccc_sync=trace`.
    #[arg(long, global = true)]
    log_level: Option<String>,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: a pass per source every `interval`, until SIGTERM or SIGINT.
    Run,
    /// One pass over every source, then exit (cron, Kubernetes CronJob).
    Once,
    /// Sync one source over an explicit span; never moves its watermark backwards.
    Backfill {
        #[arg(long)]
        source: String,
        /// Start: RFC 3339 (2026-11-01T00:00:00+08:00) or epoch milliseconds.
        #[arg(long, value_parser = app::parse_time)]
        from: chrono::DateTime<chrono::Utc>,
        /// End (default now): RFC 3339 or epoch milliseconds.
        #[arg(long, value_parser = app::parse_time)]
        to: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// The recording archive ([recordings] in the config).
    #[command(subcommand)]
    Recordings(RecordingsCommand),
    /// Show each source's watermark, lag and last run.
    Status,
    /// Serve simulated CCC call records (the built-in simulator); needs no config file.
    Simulate(ccc_simulator::SimulateArgs),
    /// Sync a few days of simulated calls into DATABASE_URL and show what a dashboard sees; needs no config file.
    Demo(tools::demo::DemoArgs),
    /// Measure a backfill from the simulator against the database's bulk-load limit; needs no config file.
    Bench(tools::bench::BenchArgs),
    /// Validate the config, reach the database, make one signed request per source, print a verdict.
    Check {
        /// Only validate the configuration; contact nothing.
        #[arg(long)]
        offline: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo talks to a person: its own lines carry the story, so logs default to warnings only.
    let quiet = match cli.command {
        Command::Demo(_) => Some("warn"),
        // The bench's table is its output; a slow bulk statement is expected there, not news.
        Command::Bench(_) => Some("error"),
        _ => None,
    }
    .filter(|_| std::env::var_os("RUST_LOG").is_none());
    let level = cli.log_level.as_deref().or(quiet);
    let json = telemetry::init(cli.log_format, level, log_stream(&cli.command));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ccc-sync: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let cancel = shutdown_on_signal();
        match cli.command {
            Command::Simulate(args) => {
                standalone(ccc_simulator::run(args, cancel.cancelled_owned()).await)
            }
            Command::Demo(args) => standalone(
                tools::demo::run(args, cancel)
                    .await
                    .map(|report| print!("{report}")),
            ),
            Command::Bench(args) => standalone(bench(args, cancel).await),
            command => with_config(&cli.config, command, json, cancel).await,
        }
    })
}

/// Commands whose stdout is a report for a person log to stderr, so that stdout holds one format.
#[derive(Subcommand)]
enum RecordingsCommand {
    /// Archive every recording file not archived yet (a backlog, once), then exit.
    Archive {
        /// Only this source's instance (default: every instance, through its whole-instance source if any).
        #[arg(long)]
        source: Option<String>,
        /// Only calls that started at or after this: RFC 3339 or epoch milliseconds.
        #[arg(long, value_parser = app::parse_time)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Only calls that started before this: RFC 3339 or epoch milliseconds.
        #[arg(long, value_parser = app::parse_time)]
        to: Option<chrono::DateTime<chrono::Utc>>,
    },
}

fn log_stream(command: &Command) -> LogStream {
    match command {
        Command::Status | Command::Check { .. } | Command::Demo(_) | Command::Bench(_) => {
            LogStream::Stderr
        }
        Command::Run
        | Command::Once
        | Command::Backfill { .. }
        | Command::Migrate
        | Command::Recordings(_)
        | Command::Simulate(_) => LogStream::Stdout,
    }
}

/// Runs the bench with this binary as the sync under test and prints its table.
async fn bench(args: tools::bench::BenchArgs, cancel: CancellationToken) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let report = tools::bench::run(&args, &exe, &cancel).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

/// Commands that need no configuration: their errors are runtime failures.
fn standalone(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ccc-sync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn with_config(
    path: &std::path::Path,
    command: Command,
    json: bool,
    cancel: CancellationToken,
) -> ExitCode {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let ready = match startup::load(path, &env) {
        Ok(ready) => ready,
        Err(e) => {
            eprintln!("ccc-sync: {e}");
            return ExitCode::from(2);
        }
    };
    let app = match App::new(ready) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("ccc-sync: {e}");
            return ExitCode::from(2);
        }
    };
    match execute(command, app, json, cancel).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(app::AppError::Usage(e)) => {
            eprintln!("ccc-sync: {e}");
            ExitCode::from(2)
        }
        Err(e) if json => {
            tracing::error!(error = %e, "Command failed");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ccc-sync: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(
    command: Command,
    app: App,
    json: bool,
    cancel: CancellationToken,
) -> Result<(), app::AppError> {
    match command {
        Command::Run => app.run(cancel).await,
        Command::Once => {
            for outcome in app.once(&cancel).await? {
                let (source, pass) = match outcome {
                    app::OnceOutcome::Synced(source, pass) => (source, pass),
                    app::OnceOutcome::HeldElsewhere(source) if json => {
                        summary_line(serde_json::json!({
                            "message": "Source skipped, a running replica holds it",
                            "source": source,
                        }));
                        continue;
                    }
                    app::OnceOutcome::HeldElsewhere(source) => {
                        println!("{source}: skipped, a running replica holds it");
                        continue;
                    }
                };
                let written = pass.written();
                if json {
                    summary_line(serde_json::json!({
                        "message": "Pass summary",
                        "source": source,
                        "windows": pass.windows.len(),
                        "records": pass.records(),
                        "calls_written": written.calls,
                        "legs_written": written.legs,
                        "recordings_written": written.recordings,
                        "watermark": pass.watermark.to_rfc3339(),
                    }));
                    continue;
                }
                println!(
                    "{source}: {} window(s), {} record(s), {} call(s) {} leg(s) {} recording(s) written, watermark {}",
                    pass.windows.len(),
                    pass.records(),
                    written.calls,
                    written.legs,
                    written.recordings,
                    pass.watermark.to_rfc3339()
                );
            }
            Ok(())
        }
        Command::Backfill { source, from, to } => {
            let pass = app
                .backfill(&source, from, to.unwrap_or_else(chrono::Utc::now), &cancel)
                .await?;
            if json {
                summary_line(serde_json::json!({
                    "message": "Backfill summary",
                    "source": source,
                    "windows": pass.windows.len(),
                    "records": pass.records(),
                    "rows_written": pass.written().rows(),
                    "watermark": pass.watermark.to_rfc3339(),
                }));
                return Ok(());
            }
            println!(
                "{source}: {} window(s), {} record(s), {} row(s) written, watermark {}",
                pass.windows.len(),
                pass.records(),
                pass.written().rows(),
                pass.watermark.to_rfc3339()
            );
            Ok(())
        }
        Command::Migrate => app.migrate().await,
        Command::Recordings(RecordingsCommand::Archive { source, from, to }) => {
            let span = ccc_sync::archive::Span { from, to };
            for (source, stats) in app
                .archive_recordings(source.as_deref(), span, &cancel)
                .await?
            {
                let Some(stats) = stats else {
                    if json {
                        summary_line(serde_json::json!({
                            "message": "Recordings skipped, another process is archiving them",
                            "source": source,
                        }));
                    } else {
                        println!("{source}: skipped, another process is archiving its recordings");
                    }
                    continue;
                };
                if json {
                    summary_line(serde_json::json!({
                        "message": "Recording archive summary",
                        "source": source,
                        "archived": stats.archived,
                        "bytes": stats.bytes,
                        "gone": stats.gone,
                        "failed": stats.failed,
                        "links_refreshed": stats.links_refreshed,
                    }));
                    continue;
                }
                println!(
                    "{source}: {} file(s) archived ({} bytes), {} gone, {} failed (tried again later), {} link(s) refreshed",
                    stats.archived, stats.bytes, stats.gone, stats.failed, stats.links_refreshed
                );
            }
            Ok(())
        }
        Command::Status => {
            print!("{}", app.status().await?);
            Ok(())
        }
        Command::Check { offline: true } => {
            println!(
                "configuration: ok ({} source(s))\nverdict: configuration valid",
                app.sources.len()
            );
            Ok(())
        }
        Command::Simulate(_) | Command::Demo(_) | Command::Bench(_) => {
            unreachable!("dispatched before the config is loaded")
        }
        Command::Check { offline: false } => {
            let (ok, report) = app.check().await;
            print!("{report}");
            if ok {
                Ok(())
            } else {
                Err(app::AppError::CheckFailed)
            }
        }
    }
}

/// A command's summary as one JSON line shaped like the log lines before it.
#[derive(serde::Serialize)]
struct SummaryLine {
    timestamp: String,
    level: &'static str,
    target: &'static str,
    /// `message` and the summary's own fields.
    #[serde(flatten)]
    fields: serde_json::Value,
}

/// Prints a summary line. It is the command's result, not a log, so `--log-level` does not hide it.
fn summary_line(fields: serde_json::Value) {
    let line = SummaryLine {
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        level: "INFO",
        target: "ccc_sync::summary",
        fields,
    };
    match serde_json::to_string(&line) {
        Ok(line) => println!("{line}"),
        Err(e) => tracing::error!(error = %e, "Cannot print the summary"),
    }
}

/// Cancels on the first SIGTERM or SIGINT (stop at the next safe point); a second one exits at once.
fn shutdown_on_signal() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        let mut interrupts = 0;
        loop {
            wait_for_signal().await;
            interrupts += 1;
            if interrupts > 1 {
                eprintln!("ccc-sync: second signal, exiting now");
                std::process::exit(130);
            }
            tracing::info!("Shutdown requested; stopping at the next safe point");
            token.cancel();
        }
    });
    cancel
}

async fn wait_for_signal() {
    let sigterm = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = sigterm => {}
    }
}
