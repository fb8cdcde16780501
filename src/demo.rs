//! `ccc-sync demo`: the simulator in-process, a sync of a few days of calls into the local database, a
//! summary checked against the simulator's ground truth, and the queries a dashboard would run.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use secrecy::SecretString;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio_util::sync::CancellationToken;

use crate::ccc::ClientSettings;
use crate::config::{SourceCredentials, SourceSettings, StartFrom, redact_url};
use crate::scheduler::{self, Source};
use crate::simulator::{self, AccessKey, DEMO_INSTANCE_ID, SimulatorConfig};
use crate::startup::ReadySource;

/// The source name the demo syncs under; its earlier state and rows are replaced on every run.
pub const DEMO_SOURCE: &str = "demo";

/// Options of `ccc-sync demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// The database to sync into.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    pub database_url: String,
    /// Calls the simulator generates.
    #[arg(long, default_value_t = 20_000)]
    pub calls: usize,
    /// Days of history they span.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
}

/// The two dashboard queries the demo runs, with the question each answers: one `SELECT` over the BI views,
/// so the demo shows the warehouse's own definitions (what counts as answered, the business day).
pub const DASHBOARD_QUERIES: [(&str, &str); 2] = [
    (
        "Calls per business day and type, with the share answered",
        "SELECT business_date AS day, contact_type_label_en AS contact_type, offered, answered, abandoned,
       round(100 * answer_rate, 1)::float8 AS answered_pct
FROM ccc.daily_calls
WHERE instance_id = $1
ORDER BY 1, 2",
    ),
    (
        "Top five agents by talk time",
        "SELECT agent_id, min(agent_name) AS agent_name, sum(calls_handled)::int8 AS calls,
       sum(talk_time)::int8 AS talk_s,
       round(sum(handle_time)::numeric / nullif(sum(calls_handled), 0))::int8 AS avg_handle_s
FROM ccc.agent_daily
WHERE instance_id = $1
GROUP BY 1
ORDER BY talk_s DESC NULLS LAST
LIMIT 5",
    ),
];

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

    let options = PgConnectOptions::from_str(&args.database_url).with_context(|| {
        format!(
            "DATABASE_URL {} is not a PostgreSQL URL",
            redact_url(&args.database_url)
        )
    })?;
    let pool = crate::db::pool(options, 4, Duration::from_secs(10));
    crate::db::migrate(&pool).await.with_context(|| {
        format!(
            "cannot prepare the database {}",
            redact_url(&args.database_url)
        )
    })?;
    forget_earlier_demo(&pool).await?;
    println!("Database:  {} (schema ccc)", redact_url(&args.database_url));

    let source = ReadySource::with_own_keys(demo_source(&sim.endpoint(), args.days)?)
        .context("the demo source names its key")?;
    let source = Source::new(source)?;
    let sync_started = Instant::now();
    let expected = sim.truth(anchor, None).len();
    let progress = tokio::spawn(show_progress(pool.clone(), expected, sync_started));
    let pass = scheduler::sync_source(&pool, &source, anchor, &cancel).await;
    progress.abort();
    let pass = pass.context("the demo sync failed")?;
    let elapsed = sync_started.elapsed();

    let mut out = String::new();
    let (calls, legs, recordings): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM ccc.calls WHERE instance_id = $1),
                (SELECT count(*) FROM ccc.agent_legs WHERE instance_id = $1),
                (SELECT count(*) FROM ccc.recordings WHERE instance_id = $1)",
    )
    .bind(DEMO_INSTANCE_ID)
    .fetch_one(&pool)
    .await?;
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

    for (question, sql) in DASHBOARD_QUERIES {
        let _ = writeln!(out, "\n-- {question}\n{sql};\n");
        out.push_str(&render_query(&pool, sql).await?);
    }
    let _ = writeln!(
        out,
        "\nDone in {:.1} s. Explore: psql \"{}\" -c 'SELECT * FROM ccc.calls LIMIT 5'",
        started.elapsed().as_secs_f64(),
        redact_url(&args.database_url)
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
        credentials: SourceCredentials::Keys {
            access_key_id: demo.id.clone(),
            access_key_secret: SecretString::from(demo.secret),
        },
        start_from: StartFrom::Ago(Duration::from_secs(u64::from(days) * 86_400 + 3_600)),
        lookback: Duration::ZERO,
        interval: Duration::from_secs(60),
        chunk: Duration::from_secs(6 * 3_600),
        page_size: 100,
        max_requests_per_second: 10_000.0,
        retry_for: Duration::from_secs(30),
        reconcile_every: None,
        reconcile_span: Duration::from_secs(48 * 3_600),
    })
}

/// The demo replaces its earlier run: its source's state and journal, and the demo instance's rows.
async fn forget_earlier_demo(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM ccc.calls WHERE instance_id = $1")
        .bind(DEMO_INSTANCE_ID)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM ccc.sync_runs WHERE source = $1")
        .bind(DEMO_SOURCE)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM ccc.sync_state WHERE source = $1")
        .bind(DEMO_SOURCE)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
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
        let Ok(done) =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ccc.calls WHERE instance_id = $1")
                .bind(DEMO_INSTANCE_ID)
                .fetch_one(&pool)
                .await
        else {
            continue;
        };
        let line = progress_line(done as usize, expected, started.elapsed());
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

/// Runs `sql` with the demo instance as `$1` and renders the rows as an aligned text table.
async fn render_query(pool: &PgPool, sql: &'static str) -> anyhow::Result<String> {
    use sqlx::{Column, Row, TypeInfo, ValueRef};
    use unicode_width::UnicodeWidthStr;
    let rows = sqlx::query(sql)
        .bind(DEMO_INSTANCE_ID)
        .fetch_all(pool)
        .await?;
    let Some(first) = rows.first() else {
        return Ok("(no rows)\n".to_owned());
    };
    let headers: Vec<String> = first
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let mut cells: Vec<Vec<String>> = Vec::new();
    for row in &rows {
        let mut line = Vec::new();
        for (i, column) in row.columns().iter().enumerate() {
            let raw = row.try_get_raw(i)?;
            let text = if raw.is_null() {
                "NULL".to_owned()
            } else {
                match column.type_info().name() {
                    "INT8" => row.try_get::<i64, _>(i)?.to_string(),
                    "INT4" => row.try_get::<i32, _>(i)?.to_string(),
                    "FLOAT8" => row.try_get::<f64, _>(i)?.to_string(),
                    "DATE" => row.try_get::<chrono::NaiveDate, _>(i)?.to_string(),
                    _ => row.try_get::<String, _>(i).unwrap_or_default(),
                }
            };
            line.push(text);
        }
        cells.push(line);
    }
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.width())));
    let _ = writeln!(
        out,
        "{}",
        headers
            .iter()
            .zip(&widths)
            .map(|(h, w)| pad(h, *w))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        out,
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-")
    );
    for r in cells {
        let _ = writeln!(
            out,
            "{}",
            r.iter()
                .zip(&widths)
                .map(|(c, w)| pad(c, *w))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    Ok(out)
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
}
