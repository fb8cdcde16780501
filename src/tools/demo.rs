//! `ccc-sync demo`: the simulator in-process, a sync of a few days of calls into the local database, a
//! summary checked against the simulator's ground truth, and the queries a dashboard would run.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use ccc_simulator::{self as simulator, AccessKey, DEMO_INSTANCE_ID, SimulatorConfig};
use ccc_sync::ccc::{ClientSettings, CredentialProvider, Credentials};
use ccc_sync::config::{SourceSettings, StartFrom, redact_url};
use ccc_sync::db;
use ccc_sync::reads::{self, RowCounts};
use ccc_sync::scheduler::{self, Source};
use ccc_sync::writer;

/// The source name the demo syncs under; its earlier state and rows are replaced on every run.
pub const DEMO_SOURCE: &str = "demo";

/// Options of `ccc-sync demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// The PostgreSQL server: any database on it that the role may connect to. The demo syncs into a
    /// database of its own there (`--database`), which it creates when missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    pub database_url: String,
    /// The demo's own database on that server; its earlier demo rows are replaced on every run.
    #[arg(long, default_value = "ccc_sync_demo", value_parser = plain_identifier)]
    pub database: String,
    /// Calls the simulator generates.
    #[arg(long, default_value_t = 20_000)]
    pub calls: usize,
    /// Days of history they span.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
}

/// Runs the demo and returns its report; fails if the warehouse does not match the simulator.
pub async fn run(args: DemoArgs, cancel: CancellationToken) -> anyhow::Result<String> {
    let started = Instant::now();
    let anchor = Utc::now();
    let sim_config = SimulatorConfig {
        calls: args.calls,
        days: args.days,
        keys: vec![AccessKey::demo()],
        instance_ids: vec![DEMO_INSTANCE_ID.to_owned()],
        write_delay: Duration::ZERO,
        anchor,
        ..SimulatorConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on loopback")?;
    let sim = simulator::start(sim_config, listener).await?;
    // The data clock stands still at the anchor, so what the sync sees and the ground truth are one instant.
    sim.set_now(anchor);
    println!(
        "Simulator: {} calls over {} days at {}",
        args.calls,
        args.days,
        sim.endpoint()
    );

    let server = PgConnectOptions::from_str(&args.database_url).with_context(|| {
        format!(
            "DATABASE_URL {} is not a PostgreSQL URL",
            redact_url(&args.database_url)
        )
    })?;
    let mut admin = PgConnection::connect_with(&server)
        .await
        .with_context(|| format!("cannot connect to {}", redact_url(&args.database_url)))?;
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
        let mut url = reqwest::Url::parse(&args.database_url)?;
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

    let source = Source::new(demo_source(&sim.endpoint(), args.days)?)?;
    let sync_started = Instant::now();
    let expected = sim.truth(anchor, None).len();
    let progress = tokio::spawn(show_progress(pool.clone(), expected, sync_started));
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

fn demo_source(endpoint: &str, days: u32) -> anyhow::Result<SourceSettings> {
    let demo = AccessKey::demo();
    Ok(SourceSettings {
        name: DEMO_SOURCE.to_owned(),
        instance_id: DEMO_INSTANCE_ID.to_owned(),
        client: ClientSettings {
            endpoint: reqwest::Url::parse(endpoint)?,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
        },
        credentials: CredentialProvider::Static(Credentials {
            access_key_id: demo.id.clone(),
            access_key_secret: SecretString::from(demo.secret),
            security_token: None,
        }),
        start_from: StartFrom::Ago(Duration::from_secs(u64::from(days) * 86_400 + 3_600)),
        lookback: Duration::ZERO,
        interval: Duration::from_secs(60),
        chunk: Duration::from_secs(6 * 3_600),
        page_size: 100,
        max_requests_per_second: 10_000.0,
        retry_for: Duration::from_secs(30),
        reconcile_every: None,
        reconcile_span: Duration::from_secs(48 * 3_600),
        phone_numbers: ccc_sync::pii::PhoneNumbers::Raw,
    })
}

/// Committed calls as windows land: a bar on a terminal, a line every few seconds otherwise.
async fn show_progress(pool: PgPool, expected: usize, started: Instant) {
    let terminal = std::io::stdout().is_terminal();
    let tick = if terminal {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(2)
    };
    loop {
        tokio::time::sleep(tick).await;
        let Ok(done) = reads::row_counts(&pool, Some(DEMO_INSTANCE_ID)).await else {
            continue;
        };
        let done = done.calls as usize;
        let line = progress_line(done, expected, started.elapsed());
        if terminal {
            print!("\r{line}");
        } else {
            println!("{line}");
        }
        let _ = std::io::stdout().flush();
    }
}

/// `[#####     ] 12000/20000 calls, 8000/s, ETA 1s`
pub fn progress_line(done: usize, total: usize, elapsed: Duration) -> String {
    let total = total.max(1);
    let filled = (done.min(total) * 30) / total;
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let eta = if rate > 0.0 {
        (total.saturating_sub(done)) as f64 / rate
    } else {
        f64::INFINITY
    };
    format!(
        "[{}{}] {done}/{total} calls, {rate:.0}/s, ETA {}",
        "#".repeat(filled),
        " ".repeat(30 - filled),
        if eta.is_finite() {
            format!("{eta:.0}s")
        } else {
            "?".to_owned()
        }
    )
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
    fn the_progress_line_shows_count_rate_and_eta() {
        let line = progress_line(5_000, 20_000, Duration::from_secs(1));
        assert_eq!(
            line,
            format!(
                "[{}{}] 5000/20000 calls, 5000/s, ETA 3s",
                "#".repeat(7),
                " ".repeat(23)
            )
        );
        assert!(progress_line(0, 10, Duration::from_secs(1)).ends_with("ETA ?"));
    }

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
