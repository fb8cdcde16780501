//! `ccc-sync demo`: the simulator in-process, a sync of a few days of calls into the local database, a
//! summary checked against the simulator's ground truth, and the queries a dashboard would run.

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use ccc_simulator::DEMO_INSTANCE_ID;
use ccc_sync::ccc::Api;
use ccc_sync::config::{StartFrom, redact_url};
use ccc_sync::db;
use ccc_sync::reads::{self, RowCounts};
use ccc_sync::scheduler::{self, Progress, Source, Unit};
use ccc_sync::startup::ReadySource;
use ccc_sync::writer;

/// The source name the demo syncs under; its earlier state and rows are replaced on every run.
pub const DEMO_SOURCE: &str = "demo";

/// Options of `ccc-sync demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub server: super::Server,
    /// The demo's own database on that server; its earlier demo rows are replaced on every run.
    #[arg(long, default_value = "ccc_sync_demo", value_parser = plain_identifier)]
    pub database: String,
    /// Calls the simulator generates.
    #[arg(long, default_value_t = 20_000)]
    pub calls: usize,
    /// Days of history they span.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// What the demo source syncs: `agent` (ListRecentCallRecords), `instance` (ListCallDetailRecords,
    /// CCC 1.0) or `ccc2` (ListCallDetailRecords 2020-07-01, with each call's details: two requests more
    /// per call).
    #[arg(long, default_value = "agent", value_parser = api)]
    pub api: Api,
}

fn api(name: &str) -> Result<Api, String> {
    Api::from_name(name).ok_or_else(|| format!("{name:?} is not agent, instance or ccc2"))
}

/// Runs the demo and returns its report; fails if the warehouse does not match the simulator.
pub async fn run(args: DemoArgs, cancel: CancellationToken) -> anyhow::Result<String> {
    let started = Instant::now();
    let anchor = Utc::now();
    let sim = super::start_simulator(args.calls, args.days, anchor).await?;
    println!(
        "Simulator: {} calls over {} days at {} (api {})",
        args.calls,
        args.days,
        sim.endpoint(),
        args.api
    );

    let server = PgConnectOptions::from_str(&args.server.database_url).with_context(|| {
        format!(
            "DATABASE_URL {} is not a PostgreSQL URL",
            redact_url(&args.server.database_url)
        )
    })?;
    let mut admin = PgConnection::connect_with(&server).await.with_context(|| {
        format!(
            "cannot connect to {}",
            redact_url(&args.server.database_url)
        )
    })?;
    let created = db::create_database_if_missing(&mut admin, &args.database)
        .await
        .with_context(|| {
            format!(
                "cannot create database {}; create it by hand or give a role that may (CREATEDB)",
                args.database
            )
        })?;
    admin.close().await?;
    let options = server.database(&args.database);
    let display_url = {
        let mut url = reqwest::Url::parse(&args.server.database_url)?;
        url.set_path(&args.database);
        redact_url(url.as_str())
    };
    let pool = db::pool(options, 4, Duration::from_secs(10));
    db::migrate(&pool)
        .await
        .with_context(|| format!("cannot prepare the database {display_url}"))?;
    // The demo replaces its earlier run: its source's state and journal, and the demo instance's rows.
    writer::forget_source(&pool, DEMO_SOURCE, DEMO_INSTANCE_ID).await?;
    println!(
        "Database:  {display_url} (schema ccc; {}, so nothing else is touched; `dropdb {}` removes it)",
        if created {
            "created for the demo"
        } else {
            "the demo's own database"
        },
        args.database
    );

    let source = ReadySource::with_own_keys(super::simulator_source(
        DEMO_SOURCE,
        args.api,
        &sim.endpoint(),
        StartFrom::Ago(Duration::from_secs(u64::from(args.days) * 86_400 + 3_600)),
        Duration::ZERO,
    )?)
    .context("the demo source names its key")?;
    let source = Source::new(source)?;
    let sync_started = Instant::now();
    let expected = sim.truth(anchor, None).len();
    let progress = tokio::spawn(show_progress(pool.clone(), expected));
    let pass = scheduler::sync_source(&pool, &source, anchor, &cancel).await;
    progress.abort();
    let pass = pass.context("the demo sync failed")?;
    let elapsed = sync_started.elapsed();

    let mut out = String::new();
    let RowCounts {
        calls,
        legs,
        recordings,
    } = reads::row_counts(&pool, Some(DEMO_INSTANCE_ID)).await?;
    let seconds = elapsed.as_secs_f64().max(0.001);
    let _ = writeln!(
        out,
        "\nSynced {} window(s), {} page(s) in {:.2} s",
        pass.windows.len(),
        pass.windows.iter().map(|w| w.pages).sum::<u32>(),
        seconds
    );
    let _ = writeln!(out, "  calls       {calls:>9}");
    let _ = writeln!(out, "  agent legs  {legs:>9}");
    let _ = writeln!(out, "  recordings  {recordings:>9}");
    let _ = writeln!(
        out,
        "  rate        {:>9.0} calls/s, {:.0} rows/s",
        calls as f64 / seconds,
        (calls + legs + recordings) as f64 / seconds
    );
    anyhow::ensure!(
        calls as usize == expected,
        "the warehouse holds {calls} calls but the simulator served {expected}"
    );
    let _ = writeln!(
        out,
        "  matches the simulator's ground truth: {expected} calls, none missing, none extra"
    );

    for (question, sql) in reads::DASHBOARD_SAMPLES {
        let _ = writeln!(out, "\n-- {question}\n{sql};\n");
        let answer = reads::dashboard_sample(&pool, sql, DEMO_INSTANCE_ID).await?;
        out.push_str(&render_table(&answer));
    }
    let _ = writeln!(
        out,
        "\nDone in {:.1} s. Explore: psql \"{display_url}\" -c 'SELECT * FROM ccc.calls LIMIT 5'",
        started.elapsed().as_secs_f64(),
    );
    sim.shutdown().await;
    pool.close().await;
    Ok(out)
}

/// Committed calls as windows land, until the task is aborted: a bar on a terminal, log lines otherwise.
async fn show_progress(pool: PgPool, expected: usize) {
    let mut progress = Progress::start(DEMO_SOURCE, Unit::Calls, expected as u64);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Ok(done) = reads::row_counts(&pool, Some(DEMO_INSTANCE_ID)).await {
            progress.update(done.calls, done.calls);
        }
    }
}

/// A query's answer as an aligned text table, column widths counted in display cells (Chinese names are
/// two cells wide).
fn render_table(answer: &reads::TextTable) -> String {
    if answer.rows.is_empty() {
        return "(no rows)\n".to_owned();
    }
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::ASCII_MARKDOWN)
        .set_header(&answer.headers)
        .add_rows(&answer.rows);
    format!("{table}\n")
}

/// A database name the demo can use unquoted: lowercase letters, digits and `_`, not starting with a digit.
fn plain_identifier(name: &str) -> Result<String, String> {
    let plain = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{name:?} is not a plain database name: use lowercase letters, digits and _ (e.g. ccc_sync_demo)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_lowercase_database_names_are_accepted() {
        for good in ["ccc_sync_demo", "_demo2"] {
            assert_eq!(plain_identifier(good).as_deref(), Ok(good));
        }
        for bad in [
            "Demo",
            "2demo",
            "demo-db",
            "demo; DROP DATABASE postgres",
            "",
        ] {
            let e = plain_identifier(bad).expect_err(bad);
            assert!(e.contains("ccc_sync_demo"), "{e}");
        }
    }
}
