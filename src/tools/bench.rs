//! `ccc-sync bench`: a backfill from the built-in simulator measured against the database's own limit, on
//! the same rows in the same run, with the figures the performance targets are stated in.
//!
//! The simulator runs in this process; each sync runs as a `ccc-sync once` child with a default
//! configuration (only what names the source) against a database the bench creates (and drops), so its wall
//! time, CPU time and peak RSS are the sync's alone. The limit is what a hand-written bulk load of the synced
//! rows achieves in a second fresh database: COPY into temporary tables, then one `INSERT … ON CONFLICT` per
//! table, into plain tables (the same columns, keys and indexes; no triggers, no foreign keys).

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt as _;
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use ccc_simulator::{self as simulator, AccessKey};
use ccc_sync::ccc::Api;
use ccc_sync::config::{SourceSettings, StartFrom, redact_url};
use ccc_sync::db;
use ccc_sync::reads::{self, RowCounts};
use ccc_sync::scheduler::{self, Source};
use ccc_sync::startup::ReadySource;
use ccc_sync::window;
use ccc_sync::writer;

/// The serving rate is measured with two windows paged at once: the simulator's headroom, not the daemon's
/// pace (which pages one window at a time).
const SERVING_WINDOWS_IN_FLIGHT: usize = 2;

/// Options of `ccc-sync bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The bench creates two databases on this server and drops them.
    #[command(flatten)]
    pub server: super::Server,
    /// Calls the simulator generates and the backfill syncs.
    #[arg(long, default_value_t = 200_000)]
    pub calls: usize,
    /// Days of history they span (the backfill's windows are 6 hours); at most 29.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Print the report as one JSON object (durations as seconds and nanoseconds) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// The longest history the bench generates: the re-sync's lookback (the span plus two hours) must stay
/// within the configuration's bound of 30 days.
const MAX_DAYS: u32 = 29;

/// The source the bench configures.
const SOURCE: &str = "bench";

/// One timed run: what it moved, how long it took, and what the process doing it used.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Timed {
    pub calls: u64,
    pub rows: u64,
    pub wall: Duration,
    /// CPU time of the sync process (user + system); `None` when the work was not a process of its own.
    pub cpu: Option<Duration>,
    /// Peak resident set size of the sync process.
    pub peak_rss_kib: Option<u64>,
}

impl Timed {
    pub fn calls_per_second(&self) -> f64 {
        self.calls as f64 / self.wall.as_secs_f64().max(1e-6)
    }

    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.wall.as_secs_f64().max(1e-6)
    }
}

/// What an idle pass (nothing new) cost.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Idle {
    pub requests: u64,
    pub transactions: i64,
    pub cpu: Duration,
}

/// Everything one bench run measured, with the counts it checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub calls: usize,
    pub days: u32,
    pub postgres: String,
    /// What the simulator serves, counted from its ground truth.
    pub truth: RowCounts,
    /// What the backfill left in the warehouse.
    pub synced: RowCounts,
    /// What the staged COPY left in the copy database's `ccc` tables.
    pub copied: RowCounts,
    /// RowCounts the re-sync of unchanged data wrote (0 when nothing was rewritten).
    pub resync_rows_written: u64,
    /// The first backfill, with a default configuration.
    pub backfill: Timed,
    /// The limit: the same rows bulk-loaded into plain tables.
    pub plain_copy: Timed,
    /// The same bulk load into the warehouse's own tables (their triggers included).
    pub staged_copy: Timed,
    /// A bare COPY into empty plain tables: no staging, no conflict handling.
    pub raw_copy: Timed,
    pub resync: Timed,
    /// Paging every window through the client with no database: what the simulator can serve.
    pub serving: Timed,
    pub idle: Idle,
}

/// Runs the bench; `exe` is the `ccc-sync` binary the syncs run as.
pub async fn run(
    args: &BenchArgs,
    exe: &Path,
    cancel: &CancellationToken,
) -> anyhow::Result<BenchReport> {
    ensure!(
        args.calls > 0 && args.days > 0,
        "--calls and --days must be positive"
    );
    ensure!(
        args.days <= MAX_DAYS,
        "--days {} is too many: the re-sync reads the whole span back as its lookback, which is at most 30 days. \
         Fix: use --days {MAX_DAYS} or fewer",
        args.days
    );
    let admin_options =
        PgConnectOptions::from_str(&args.server.database_url).with_context(|| {
            format!(
                "DATABASE_URL {} is not a PostgreSQL URL",
                redact_url(&args.server.database_url)
            )
        })?;
    let mut admin = PgConnection::connect_with(&admin_options)
        .await
        .with_context(|| {
            format!(
                "cannot connect to {}",
                redact_url(&args.server.database_url)
            )
        })?;
    let postgres = db::server_version(&mut admin).await?;
    let names = Databases::new();
    for name in names.all() {
        db::recreate_database(&mut admin, name)
            .await
            .with_context(|| format!("cannot create database {name}; the role needs CREATEDB"))?;
    }
    let result = measure(args, exe, &admin_options, &names, postgres, cancel).await;
    for name in names.all() {
        if let Err(e) = db::drop_database(&mut admin, name).await {
            eprintln!("ccc-sync bench: could not drop database {name}: {e}");
        }
    }
    result
}

/// The two databases of one run: the sync's and the staged COPY's.
struct Databases {
    sync: String,
    copy: String,
}

impl Databases {
    fn new() -> Self {
        let id = std::process::id();
        Databases {
            sync: format!("ccc_bench_{id}_sync"),
            copy: format!("ccc_bench_{id}_copy"),
        }
    }

    fn all(&self) -> [&str; 2] {
        [&self.sync, &self.copy]
    }
}

async fn measure(
    args: &BenchArgs,
    exe: &Path,
    admin: &PgConnectOptions,
    names: &Databases,
    postgres: String,
    cancel: &CancellationToken,
) -> anyhow::Result<BenchReport> {
    let anchor = window::to_ms(Utc::now());
    let sim = super::start_simulator(args.calls, args.days, anchor).await?;
    let truth = truth_rows(&sim.truth(anchor, None));
    let start = anchor - TimeDelta::days(i64::from(args.days)) - TimeDelta::hours(1);
    let settings = super::simulator_source(
        SOURCE,
        Api::Agent,
        &sim.endpoint(),
        StartFrom::At(start),
        Duration::ZERO,
    )?;
    eprintln!(
        "bench: {} calls ({} rows) over {} days, simulator at {}",
        truth.calls,
        truth.total(),
        args.days,
        sim.endpoint()
    );

    let sync_db = admin.clone().database(&names.sync);
    let pool = db::pool(sync_db.clone(), 4, Duration::from_secs(10));
    db::migrate(&pool).await?;
    let copy_db = admin.clone().database(&names.copy);
    let copy_pool = db::pool(copy_db, 2, Duration::from_secs(10));
    db::migrate(&copy_pool).await?;

    let dir = tempfile::tempdir()?;
    let url = database_url(admin, &names.sync);
    let backfill_config = write_config(dir.path(), "backfill", &url, &settings)?;
    let resync_settings = SourceSettings {
        lookback: Duration::from_secs(u64::from(args.days) * 86_400 + 2 * 3_600),
        ..settings.clone()
    };
    let resync_config = write_config(dir.path(), "resync", &url, &resync_settings)?;

    eprintln!("bench: backfill (ccc-sync once with a default configuration, a child process)");
    let backfill = run_sync(exe, &backfill_config, dir.path(), truth).await?;
    let synced = reads::row_counts(&pool, None).await?;

    eprintln!(
        "bench: bulk loads of the same rows (plain tables, the warehouse's tables, a bare COPY)"
    );
    let loads = bulk_loads(&pool, &copy_pool, dir.path()).await?;
    let copied = reads::row_counts(&copy_pool, None).await?;
    copy_pool.close().await;

    eprintln!("bench: re-sync of the unchanged rows (the lookback path)");
    let resync_started = Utc::now();
    let resync = run_sync(exe, &resync_config, dir.path(), truth).await?;
    let resync_rows_written = reads::rows_written_since(&pool, resync_started).await?;
    pool.close().await;

    eprintln!("bench: the simulator's serving rate (paging through the client, no database)");
    let source =
        ReadySource::with_own_keys(settings.clone()).context("the bench source names its key")?;
    let source = Source::new(source)?;
    let serving = serve_all(&source, start, anchor, cancel).await?;

    eprintln!("bench: an idle pass");
    let idle = idle_pass(&sim, &source, &sync_db, admin, cancel).await?;
    sim.shutdown().await;

    Ok(BenchReport {
        calls: args.calls,
        days: args.days,
        postgres,
        truth,
        synced,
        copied,
        resync_rows_written,
        backfill,
        plain_copy: loads.plain,
        staged_copy: loads.staged,
        raw_copy: loads.raw,
        resync,
        serving,
        idle,
    })
}

/// Calls, legs and recordings in the simulator's ground truth.
fn truth_rows(records: &[Value]) -> RowCounts {
    // The wrapped shape nests each list one level (`"Agents": {"CallDetailAgent": [...]}`).
    let len = |v: Option<&Value>, inner: &str| match v {
        Some(Value::Array(a)) => a.len() as u64,
        Some(Value::Object(o)) => o
            .get(inner)
            .and_then(Value::as_array)
            .map_or(0, |a| a.len() as u64),
        _ => 0,
    };
    RowCounts {
        calls: records.len() as u64,
        legs: records
            .iter()
            .map(|r| len(r.get("Agents"), "CallDetailAgent"))
            .sum(),
        recordings: records
            .iter()
            .map(|r| len(r.get("Recordings"), "Recording"))
            .sum(),
    }
}

fn database_url(admin: &PgConnectOptions, database: &str) -> String {
    format!(
        "postgres://{}@{}:{}/{database}",
        admin.get_username(),
        admin.get_host(),
        admin.get_port()
    )
}

/// Writes the TOML a `ccc-sync once` child reads for `settings`: only what names the source, where it
/// starts and its lookback; everything else is left to its default, as a new user would.
fn write_config(
    dir: &Path,
    name: &str,
    url: &str,
    settings: &SourceSettings,
) -> anyhow::Result<PathBuf> {
    let key = AccessKey::demo();
    let start = match settings.start_from {
        StartFrom::At(t) => t.to_rfc3339(),
        StartFrom::Ago(_) => bail!("the bench starts its source at an instant"),
    };
    let text = format!(
        "[database]\nurl = \"{url}\"\n\n\
         [[sources]]\nname = \"{}\"\ninstance_id = \"{}\"\nendpoint = \"{}\"\n\
         access_key_id = \"{}\"\naccess_key_secret = \"{}\"\nstart_from = \"{start}\"\n\
         lookback = \"{}s\"\n",
        settings.name,
        settings.instance_id,
        settings.client.endpoint,
        key.id,
        key.secret,
        settings.lookback.as_secs(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Runs `ccc-sync once` with `config` as a child and measures it; fails unless it synced what the truth holds.
async fn run_sync(
    exe: &Path,
    config: &Path,
    dir: &Path,
    truth: RowCounts,
) -> anyhow::Result<Timed> {
    let exe = exe.to_owned();
    let config = config.to_owned();
    let log = dir.join("child.log");
    let log_for_child = log.clone();
    let (wall, cpu, peak_rss_kib) =
        tokio::task::spawn_blocking(move || run_child(&exe, &config, &log_for_child)).await??;
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let records: u64 = output
        .split_whitespace()
        .skip_while(|w| *w != "window(s),")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("the sync printed no summary:\n{output}"))?;
    ensure!(
        records == truth.calls,
        "the sync fetched {records} records but the simulator serves {} calls",
        truth.calls
    );
    Ok(Timed {
        calls: truth.calls,
        rows: truth.total(),
        wall,
        cpu: Some(cpu),
        peak_rss_kib: Some(peak_rss_kib),
    })
}

/// Spawns the child, samples its peak RSS (`VmHWM`, a high-water mark) until it exits, and reads its CPU
/// time from this process's `cutime + cstime` once it is reaped.
fn run_child(exe: &Path, config: &Path, log: &Path) -> anyhow::Result<(Duration, Duration, u64)> {
    let cpu_before = children_cpu()?;
    let started = Instant::now();
    let mut command = Command::new(exe);
    command
        .arg("--config")
        .arg(config)
        // Readable output: the summary line the bench reads back is text.
        .args(["--log-level", "warn", "--log-format", "pretty", "once"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log)?)
        .stderr(Stdio::inherit());
    // The child reads its database from the generated file only.
    for (name, _) in std::env::vars_os() {
        if name == "DATABASE_URL" || name.to_string_lossy().starts_with("CCC_SYNC") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_path)
            .ok()
            .and_then(|s| vm_hwm_kib(&s))
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let wall = started.elapsed();
    ensure!(
        status.success(),
        "the sync child failed ({status}); its output:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    Ok((wall, children_cpu()? - cpu_before, peak_kib))
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time of this process's reaped children, from `/proc/self/stat` (in USER_HZ = 100 ticks a second).
fn children_cpu() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> u64 { fields.get(i - 3).and_then(|f| f.parse().ok()).unwrap_or(0) };
    Ok(Duration::from_millis((ticks(16) + ticks(17)) * 10))
}

/// The copy database's schemas of plain tables: one for the staged load, one for the bare COPY.
const PLAIN: &str = "plain";
const RAW: &str = "raw";

/// The bulk loads the backfill is measured against.
struct Loads {
    plain: Timed,
    staged: Timed,
    raw: Timed,
}

/// One way to bulk-load the exported rows.
#[derive(Clone, Copy)]
enum Load {
    /// COPY into a temporary table, then `INSERT … ON CONFLICT` into the schema's table.
    Staged(&'static str),
    /// COPY straight into the schema's table.
    Raw(&'static str),
}

/// Exports the synced rows to files, then times loading them into the empty copy database three ways, each
/// in one transaction of its own.
async fn bulk_loads(from: &PgPool, to: &PgPool, dir: &Path) -> anyhow::Result<Loads> {
    let mut conn = from.acquire().await?;
    for table in &writer::TABLES {
        let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join(table.name))?);
        reads::copy_out(&mut conn, table, &mut file).await?;
    }
    drop(conn);
    let calls = reads::row_counts(from, None).await?.calls;
    let mut conn = to.acquire().await?;
    for schema in [PLAIN, RAW] {
        writer::create_plain_tables(&mut conn, schema).await?;
    }
    drop(conn);
    Ok(Loads {
        plain: timed_load(to, dir, calls, Load::Staged(PLAIN)).await?,
        staged: timed_load(to, dir, calls, Load::Staged("ccc")).await?,
        raw: timed_load(to, dir, calls, Load::Raw(RAW)).await?,
    })
}

async fn timed_load(to: &PgPool, dir: &Path, calls: u64, load: Load) -> anyhow::Result<Timed> {
    let started = Instant::now();
    let mut tx = writer::begin(to).await?;
    let mut rows = 0;
    for table in &writer::TABLES {
        let file = tokio::fs::File::open(dir.join(table.name)).await?;
        rows += match load {
            Load::Staged(schema) => writer::staged_load(&mut tx, schema, table, file).await?,
            Load::Raw(schema) => writer::raw_load(&mut tx, schema, table, file).await?,
        };
    }
    tx.commit().await?;
    Ok(Timed {
        calls,
        rows,
        wall: started.elapsed(),
        cpu: None,
        peak_rss_kib: None,
    })
}

/// Pages every window of the span through the client, as the sync does but writing nothing.
async fn serve_all(
    source: &Source,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    cancel: &CancellationToken,
) -> anyhow::Result<Timed> {
    let started = Instant::now();
    let windows = window::chunks(start, end, super::CHUNK);
    let fetched = futures::stream::iter(windows)
        .map(|w| async move {
            let (sender, mut pages) = mpsc::channel(8);
            let fetcher = source.fetcher.clone();
            let stop = cancel.child_token();
            tokio::spawn(async move { fetcher.fetch_window(w, sender, stop).await });
            let mut records = 0u64;
            while let Some(page) = pages.recv().await {
                records += page?.received as u64;
            }
            Ok::<_, anyhow::Error>(records)
        })
        .buffered(SERVING_WINDOWS_IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    let mut calls = 0;
    for records in fetched {
        calls += records?;
    }
    Ok(Timed {
        calls,
        rows: 0,
        wall: started.elapsed(),
        cpu: None,
        peak_rss_kib: None,
    })
}

async fn idle_pass(
    sim: &simulator::SimulatorHandle,
    source: &Source,
    database: &PgConnectOptions,
    admin: &PgConnectOptions,
    cancel: &CancellationToken,
) -> anyhow::Result<Idle> {
    let pool = db::pool(database.clone(), 4, Duration::from_secs(10));
    // A first pass warms the pool (connections, prepared statements); the second is the one measured.
    scheduler::sync_source(&pool, source, Utc::now(), cancel).await?;
    let (requests, cpu, xid) = (
        sim.requests().total,
        process_cpu(),
        transaction_id_now(admin).await?,
    );
    scheduler::sync_source(&pool, source, Utc::now(), cancel).await?;
    let idle = Idle {
        cpu: process_cpu().saturating_sub(cpu),
        requests: sim.requests().total - requests,
        transactions: transaction_id_now(admin).await? - xid,
    };
    pool.close().await;
    Ok(idle)
}

/// The cluster's next transaction id, on a connection of its own so that reading it takes none.
async fn transaction_id_now(admin: &PgConnectOptions) -> anyhow::Result<i64> {
    let mut conn = PgConnection::connect_with(admin).await?;
    let xid = db::next_transaction_id(&mut conn).await?;
    conn.close().await?;
    Ok(xid)
}

impl BenchReport {
    /// Whether every count matched: the warehouse and every bulk load hold the simulator's truth exactly,
    /// and the re-sync rewrote nothing.
    pub fn accounting_is_exact(&self) -> bool {
        let rows = self.truth.total();
        self.synced == self.truth
            && self.copied == self.truth
            && self.plain_copy.rows == rows
            && self.raw_copy.rows == rows
            && self.resync_rows_written == 0
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "ccc-sync bench: {} calls ({} rows: {} legs, {} recordings) over {} days; {} cores; PostgreSQL {}",
            self.truth.calls,
            self.truth.total(),
            self.truth.legs,
            self.truth.recordings,
            self.days,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.postgres
        );
        let _ = writeln!(
            out,
            "\n{:<44} {:>9} {:>9} {:>8} {:>8} {:>9}",
            "run", "calls/s", "rows/s", "wall s", "CPU s", "peak RSS"
        );
        let line = |name: &str, t: &Timed| {
            format!(
                "{name:<44} {:>9.0} {:>9} {:>8.2} {:>8} {:>9}\n",
                t.calls_per_second(),
                if t.rows > 0 {
                    format!("{:.0}", t.rows_per_second())
                } else {
                    "-".to_owned()
                },
                t.wall.as_secs_f64(),
                t.cpu
                    .map_or("-".to_owned(), |c| format!("{:.2}", c.as_secs_f64())),
                t.peak_rss_kib
                    .map_or("-".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
            )
        };
        out.push_str(&line(
            "backfill, default config (ccc-sync once)",
            &self.backfill,
        ));
        out.push_str(&line(
            "plain staged COPY + ON CONFLICT (limit)",
            &self.plain_copy,
        ));
        out.push_str(&line(
            "staged COPY into ccc.* (its triggers)",
            &self.staged_copy,
        ));
        out.push_str(&line("raw COPY into empty plain tables", &self.raw_copy));
        out.push_str(&line("re-sync of unchanged rows (lookback)", &self.resync));
        out.push_str(&line(
            "simulator + client paging, no database",
            &self.serving,
        ));
        let _ = writeln!(
            out,
            "idle pass: {} request(s), {} transaction(s), {:.2} ms CPU",
            self.idle.requests,
            self.idle.transactions,
            self.idle.cpu.as_secs_f64() * 1_000.0
        );
        let ratio = |a: f64, b: f64| a / b.max(1e-9);
        let backfill = self.backfill.calls_per_second();
        let rss_mib = self.backfill.peak_rss_kib.unwrap_or(0) as f64 / 1024.0;
        let targets = [
            (
                "backfill / plain staged COPY rate".to_owned(),
                format!("{:.2}", ratio(backfill, self.plain_copy.calls_per_second())),
                "≥ 0.70",
                ratio(backfill, self.plain_copy.calls_per_second()) >= 0.7,
            ),
            (
                "re-sync / backfill rate".to_owned(),
                format!("{:.2}", ratio(self.resync.calls_per_second(), backfill)),
                "≥ 1.00",
                self.resync.calls_per_second() >= backfill,
            ),
            (
                "simulator / backfill rate".to_owned(),
                format!("{:.2}", ratio(self.serving.calls_per_second(), backfill)),
                "> 1 (not the bottleneck)",
                self.serving.calls_per_second() > backfill,
            ),
            (
                "backfill peak RSS".to_owned(),
                format!("{rss_mib:.1} MiB"),
                "≤ 64 MiB",
                rss_mib <= 64.0,
            ),
            (
                "idle pass requests".to_owned(),
                self.idle.requests.to_string(),
                "1 per source",
                self.idle.requests == 1,
            ),
            (
                "idle pass transactions".to_owned(),
                self.idle.transactions.to_string(),
                "1",
                self.idle.transactions == 1,
            ),
            (
                "idle pass CPU".to_owned(),
                format!("{:.2} ms", self.idle.cpu.as_secs_f64() * 1_000.0),
                "< 5 ms",
                self.idle.cpu < Duration::from_millis(5),
            ),
            (
                "counts vs the simulator's truth".to_owned(),
                if self.accounting_is_exact() {
                    "exact".to_owned()
                } else {
                    format!(
                        "synced {:?}, copied {:?}, plain {} rows, raw {} rows, re-sync wrote {}",
                        self.synced,
                        self.copied,
                        self.plain_copy.rows,
                        self.raw_copy.rows,
                        self.resync_rows_written
                    )
                },
                "exact",
                self.accounting_is_exact(),
            ),
        ];
        let _ = writeln!(
            out,
            "\n{:<36} {:>12}  {:<26} verdict",
            "target", "measured", "goal"
        );
        for (name, measured, goal, met) in targets {
            let _ = writeln!(
                out,
                "{name:<36} {measured:>12}  {goal:<26} {}",
                if met { "met" } else { "NOT MET" }
            );
        }
        f.write_str(&out)
    }
}

/// CPU time this process has used so far.
fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}
