//! The sync loop: a pass per source every `interval`, built from steps tests can drive one at a time.
//!
//! [`sync_window`] fetches one window and writes it in one transaction whose last statement moves the
//! watermark, so a crash at any moment leaves either the whole window or none of it. [`sync_source`] is one
//! pass (the windows from `watermark − lookback` to now, plus a reconciliation span when due); [`run`] repeats
//! passes until shutdown, which is honoured only between pages and windows (an interrupted window rolls back).

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ccc::{CallRecord, CccClient, CccError};
use crate::config::SourceSettings;
use crate::fetcher::{FetchError, FetchedPage, Fetcher};
use crate::health::Health;
use crate::lock::SourceLock;
use crate::retry::RetryPolicy;
use crate::window::{self, Window};
use crate::writer::{self, Failure, RunKind, RunReport, WriteStats};

/// A window's transaction.
type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Pages buffered between the fetcher and the writer: enough to overlap requests with a write.
const PAGES_IN_FLIGHT: usize = 4;

/// Records written by one set of statements. Fewer round trips per record until PostgreSQL's own work per
/// row dominates; small enough that a batch (with its column arrays) stays a few megabytes.
pub const BATCH_RECORDS: usize = 1_000;

/// A configured source with its client, ready to sync.
#[derive(Clone)]
pub struct Source {
    pub settings: SourceSettings,
    pub fetcher: Fetcher,
}

impl Source {
    pub fn new(settings: SourceSettings) -> Result<Self, CccError> {
        let client = CccClient::new(&settings.client, settings.credentials.clone())?;
        let fetcher = Fetcher::new(
            &settings.name,
            &settings.instance_id,
            client,
            settings.max_requests_per_second,
            RetryPolicy::requests(settings.retry_for),
            settings.page_size,
            settings.phone_numbers.clone(),
        );
        Ok(Source { settings, fetcher })
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }
}

/// Why a window or pass did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("source {source_name}, window {window}: {error}")]
    Fetch {
        source_name: String,
        window: Window,
        #[source]
        error: FetchError,
    },
    #[error("source {source_name}: database error: {error}")]
    Database {
        source_name: String,
        #[source]
        error: sqlx::Error,
    },
    #[error("interrupted by shutdown")]
    Interrupted,
}

impl SyncError {
    fn database(source: &Source) -> impl FnOnce(sqlx::Error) -> SyncError + '_ {
        |error| SyncError::Database {
            source_name: source.name().to_owned(),
            error,
        }
    }

    /// The CCC error behind a failure, if the API was the cause.
    pub fn ccc(&self) -> Option<&CccError> {
        match self {
            SyncError::Fetch { error, .. } => error.ccc(),
            _ => None,
        }
    }

    /// A short stable name for logs, metrics and `sync_runs.error_code`.
    pub fn code(&self) -> &str {
        match self {
            SyncError::Fetch {
                error: FetchError::TooManyPages,
                ..
            } => "TooManyPages",
            SyncError::Fetch { error, .. } => error.ccc().map_or("Interrupted", CccError::code),
            SyncError::Database { .. } => "DatabaseError",
            SyncError::Interrupted => "Interrupted",
        }
    }
}

/// What one pass over a source did.
#[derive(Debug, Clone)]
pub struct PassOutcome {
    pub windows: Vec<RunReport>,
    pub watermark: DateTime<Utc>,
}

impl PassOutcome {
    pub fn written(&self) -> WriteStats {
        let mut total = WriteStats::default();
        for w in &self.windows {
            total.add(w.written);
        }
        total
    }

    pub fn records(&self) -> u64 {
        self.windows.iter().map(|w| w.records).sum()
    }
}

/// Fetches `window` and commits it, with its journal entry and the watermark, in one transaction.
pub async fn sync_window(
    pool: &PgPool,
    source: &Source,
    window: Window,
    kind: RunKind,
    cancel: &CancellationToken,
) -> Result<RunReport, SyncError> {
    sync_window_in(pool, source, window, kind, cancel, None).await
}

/// [`sync_window`] in `tx` when given (a pass's first window shares the transaction that read the state).
async fn sync_window_in(
    pool: &PgPool,
    source: &Source,
    window: Window,
    kind: RunKind,
    cancel: &CancellationToken,
    tx: Option<Tx>,
) -> Result<RunReport, SyncError> {
    let mut report = RunReport {
        source: source.name().to_owned(),
        kind,
        window,
        pages: 0,
        records: 0,
        duplicates: 0,
        written: WriteStats::default(),
        started_at: Utc::now(),
    };
    let started = Instant::now();
    let result = write_window(pool, source, &mut report, cancel, tx).await;
    match &result {
        Ok(()) => crate::events::window_committed(&report),
        Err(SyncError::Interrupted) => {}
        Err(_) => crate::events::window_failed(source.name(), kind),
    }
    match &result {
        Ok(()) => tracing::info!(
            source = source.name(), window = %window, kind = kind.as_str(), pages = report.pages,
            records = report.records, duplicates = report.duplicates, calls_written = report.written.calls,
            legs_written = report.written.legs, recordings_written = report.written.recordings,
            quarantined = report.written.quarantined, elapsed_ms = started.elapsed().as_millis() as u64,
            "Window committed"
        ),
        Err(SyncError::Interrupted) => {
            tracing::info!(source = source.name(), window = %window, "Window rolled back for shutdown");
        }
        Err(e) => {
            let message = e.to_string();
            let failure = Failure {
                code: e.code(),
                request_id: e.ccc().and_then(CccError::request_id),
                message: &message,
            };
            tracing::error!(
                source = source.name(), window = %window, kind = kind.as_str(), code = failure.code,
                request_id = failure.request_id, hint = e.ccc().and_then(CccError::hint),
                elapsed_ms = started.elapsed().as_millis() as u64, error = %message,
                "Window failed; nothing of it was committed"
            );
            if let Some(CccError::Api {
                our_string_to_sign: Some(sts),
                ..
            }) = e.ccc()
            {
                tracing::error!(source = source.name(), our_string_to_sign = %sts, "Compare with the server's string to sign");
            }
            if let Err(journal) = writer::record_failure(pool, &report, &failure).await {
                tracing::warn!(source = source.name(), error = %journal, "Could not journal the failed window");
            }
        }
    }
    result.map(|()| report)
}

/// Streams the window's pages into its transaction, a batch of about [`BATCH_RECORDS`] records at a time,
/// then journals the window, moves the watermark and commits.
async fn write_window(
    pool: &PgPool,
    source: &Source,
    report: &mut RunReport,
    cancel: &CancellationToken,
    tx: Option<Tx>,
) -> Result<(), SyncError> {
    if cancel.is_cancelled() {
        return Err(SyncError::Interrupted);
    }
    let mut tx = match tx {
        Some(tx) => tx,
        None => writer::begin(pool)
            .await
            .map_err(SyncError::database(source))?,
    };
    let (sender, mut pages) = mpsc::channel(PAGES_IN_FLIGHT);
    // The fetcher stops when this window's work stops, whatever the reason.
    let stop_fetching = cancel.child_token();
    let _stop_on_exit = stop_fetching.clone().drop_guard();
    let fetcher = source.fetcher.clone();
    let window = report.window;
    tokio::spawn(async move { fetcher.fetch_window(window, sender, stop_fetching).await });
    let mut batch: Vec<CallRecord> = Vec::new();
    let mut done = false;
    while !done {
        let page = pages.recv().await;
        done = page.is_none();
        if let Some(page) = page {
            let page = match page {
                Ok(page) => page,
                Err(FetchError::Cancelled) => return Err(SyncError::Interrupted),
                Err(error) => {
                    return Err(SyncError::Fetch {
                        source_name: source.name().to_owned(),
                        window,
                        error,
                    });
                }
            };
            if cancel.is_cancelled() {
                return Err(SyncError::Interrupted);
            }
            let quarantined = quarantine(&mut tx, source, window, &page).await?;
            tracing::debug!(
                source = source.name(), window = %window, page = page.page_number, request_id = %page.request_id,
                records = page.received, duplicates = page.duplicates, "Page received"
            );
            report.pages += 1;
            report.records += page.received as u64;
            report.duplicates += page.duplicates as u64;
            report.written.quarantined += quarantined;
            batch.extend(page.records);
        }
        if batch.len() >= BATCH_RECORDS || (done && !batch.is_empty()) {
            let written = writer::write_calls(&mut tx, &source.settings.instance_id, &batch)
                .await
                .map_err(SyncError::database(source))?;
            tracing::debug!(
                source = source.name(), window = %window, records = batch.len(),
                rows_written = written.rows(), "Batch written"
            );
            report.written.add(written);
            batch.clear();
        }
    }
    if cancel.is_cancelled() {
        return Err(SyncError::Interrupted);
    }
    writer::finish_window(&mut tx, report)
        .await
        .map_err(SyncError::database(source))?;
    tx.commit().await.map_err(SyncError::database(source))?;
    Ok(())
}

/// Keeps a page's invalid records in quarantine, with the request that brought them.
async fn quarantine(
    tx: &mut sqlx::PgConnection,
    source: &Source,
    window: Window,
    page: &FetchedPage,
) -> Result<u64, SyncError> {
    if page.invalid.is_empty() {
        return Ok(0);
    }
    let kept = writer::quarantine(tx, source.name(), &page.request_id, &page.invalid)
        .await
        .map_err(SyncError::database(source))?;
    tracing::warn!(
        source = source.name(), window = %window, page = page.page_number, request_id = %page.request_id,
        invalid = page.invalid.len(), newly_quarantined = kept,
        reasons = ?page.invalid.iter().map(|i| i.reason.as_str()).collect::<Vec<_>>(),
        "Records without identity kept in ccc.quarantined_records"
    );
    Ok(kept)
}

/// One pass over one source: from `lookback` before the watermark to `now`, in chunks, oldest first; when a
/// reconciliation is due, from `reconcile_span` before `now` instead (whichever starts earlier).
pub async fn sync_source(
    pool: &PgPool,
    source: &Source,
    now: DateTime<Utc>,
    cancel: &CancellationToken,
) -> Result<PassOutcome, SyncError> {
    let s = &source.settings;
    let now = window::to_ms(now);
    // The state is read in the first window's transaction, so an idle pass is one transaction. A new
    // source's starting watermark is pinned in a statement of its own first: a relative `start_from` must
    // not drift forward while first passes fail.
    let mut tx = writer::begin(pool)
        .await
        .map_err(SyncError::database(source))?;
    let state = match writer::read_state(&mut tx, &s.name)
        .await
        .map_err(SyncError::database(source))?
    {
        Some(state) => state,
        None => {
            let mut conn = pool.acquire().await.map_err(SyncError::database(source))?;
            writer::load_state(
                &mut conn,
                &s.name,
                &s.instance_id,
                s.start_from.resolve(now),
            )
            .await
            .map_err(SyncError::database(source))?
        }
    };
    let (mut start, end) = window::pass_span(state.watermark, s.lookback, now);
    // A source's first pass counts as its first reconciliation: it must not reach back before `start_from`.
    let first_pass = state.last_reconciled_at.is_none();
    let reconcile_due = s.reconcile_every.is_some_and(|every| {
        state
            .last_reconciled_at
            .is_some_and(|last| now - last >= TimeDelta::from_std(every).unwrap_or(TimeDelta::MAX))
    });
    let mut kind = RunKind::Incremental;
    if reconcile_due {
        let reconcile_start = now - TimeDelta::from_std(s.reconcile_span).unwrap_or(TimeDelta::MAX);
        if reconcile_start < start {
            start = reconcile_start;
            kind = RunKind::Reconcile;
        }
    }
    let windows = run_windows(
        pool,
        source,
        window::chunks(start, end, s.chunk),
        kind,
        cancel,
        Some(tx),
    )
    .await?;
    if reconcile_due || first_pass {
        let mut conn = pool.acquire().await.map_err(SyncError::database(source))?;
        writer::mark_reconciled(&mut conn, &s.name, now)
            .await
            .map_err(SyncError::database(source))?;
    }
    Ok(PassOutcome {
        windows,
        watermark: state.watermark.max(end),
    })
}

/// Syncs `[from, to]` (clamped to now) for one source without ever moving its watermark backwards.
pub async fn backfill(
    pool: &PgPool,
    source: &Source,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    cancel: &CancellationToken,
) -> Result<PassOutcome, SyncError> {
    let s = &source.settings;
    let mut conn = pool.acquire().await.map_err(SyncError::database(source))?;
    let state = writer::load_state(
        &mut conn,
        &s.name,
        &s.instance_id,
        s.start_from.resolve(now),
    )
    .await
    .map_err(SyncError::database(source))?;
    drop(conn);
    let windows = window::chunks(from, to.min(now), s.chunk);
    let windows = run_windows(pool, source, windows, RunKind::Backfill, cancel, None).await?;
    let mut conn = pool.acquire().await.map_err(SyncError::database(source))?;
    let watermark = writer::read_state(&mut conn, &s.name)
        .await
        .map_err(SyncError::database(source))?
        .map_or(state.watermark, |current| current.watermark);
    Ok(PassOutcome { windows, watermark })
}

/// Syncs `windows` one after the other, oldest first; the first failure ends the pass.
///
/// One window at a time, on purpose: adjacent windows share their boundary millisecond, so two windows in
/// flight can both hold a call, and a later window that wrote it first would block the earlier one on a row
/// lock while itself waiting for the earlier one to commit.
async fn run_windows(
    pool: &PgPool,
    source: &Source,
    windows: Vec<Window>,
    kind: RunKind,
    cancel: &CancellationToken,
    mut first: Option<Tx>,
) -> Result<Vec<RunReport>, SyncError> {
    let mut progress = Progress::new(source.name(), windows.len());
    let mut reports = Vec::with_capacity(windows.len());
    for window in windows {
        let report = sync_window_in(pool, source, window, kind, cancel, first.take()).await?;
        progress.window_committed(report.records);
        reports.push(report);
    }
    if let Some(unused) = first {
        unused.commit().await.map_err(SyncError::database(source))?;
    }
    progress.finish();
    Ok(reports)
}

/// Progress of a pass with many windows (a backfill, a first pass): calls done, rate and ETA, as a bar on
/// a terminal and a log line every [`Progress::LOG_EVERY`] otherwise.
struct Progress<'a> {
    source: &'a str,
    windows: usize,
    done: usize,
    calls: u64,
    started: Instant,
    shown: Instant,
    terminal: bool,
}

impl<'a> Progress<'a> {
    /// Passes with fewer windows finish too soon to need it.
    const MIN_WINDOWS: usize = 8;
    const LOG_EVERY: Duration = Duration::from_secs(10);
    const DRAW_EVERY: Duration = Duration::from_millis(200);

    fn new(source: &'a str, windows: usize) -> Self {
        let now = Instant::now();
        Progress {
            source,
            windows,
            done: 0,
            calls: 0,
            started: now,
            shown: now,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn window_committed(&mut self, records: u64) {
        self.done += 1;
        self.calls += records;
        if self.windows < Self::MIN_WINDOWS {
            return;
        }
        let every = if self.terminal {
            Self::DRAW_EVERY
        } else {
            Self::LOG_EVERY
        };
        if self.shown.elapsed() < every && self.done < self.windows {
            return;
        }
        self.shown = Instant::now();
        let elapsed = self.started.elapsed();
        let rate = self.calls as f64 / elapsed.as_secs_f64().max(0.001);
        let eta = elapsed.mul_f64((self.windows - self.done) as f64 / self.done as f64);
        if self.terminal {
            eprint!(
                "\r{}",
                progress_bar(self.done, self.windows, self.calls, rate, eta)
            );
        } else {
            tracing::info!(
                source = self.source,
                windows_done = self.done,
                windows = self.windows,
                calls = self.calls,
                calls_per_second = rate.round() as u64,
                eta_s = eta.as_secs(),
                "Pass progress"
            );
        }
    }

    fn finish(&self) {
        if self.terminal && self.windows >= Self::MIN_WINDOWS {
            eprintln!();
        }
    }
}

/// `[#######                       ] 12/48 windows, 52000 calls, 31000 calls/s, ETA 5s`
fn progress_bar(done: usize, total: usize, calls: u64, rate: f64, eta: Duration) -> String {
    const WIDTH: usize = 30;
    let filled = done.min(total) * WIDTH / total.max(1);
    format!(
        "[{}{}] {done}/{total} windows, {calls} calls, {rate:.0} calls/s, ETA {}s",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
        eta.as_secs()
    )
}

/// One pass over every source, concurrently; what `ccc-sync once` does.
pub async fn sync_once(
    pool: &PgPool,
    sources: &[Source],
    now: DateTime<Utc>,
    cancel: &CancellationToken,
) -> Vec<Result<PassOutcome, SyncError>> {
    futures::future::join_all(sources.iter().map(|s| sync_source(pool, s, now, cancel))).await
}

/// Runs passes for every source until `cancel`. Each source is synced by the one replica holding its
/// advisory lock; the others stand by and try again every interval. A failing source backs off (up to its
/// interval) and keeps trying, so a database or API outage never ends the daemon.
pub async fn run(
    pool: PgPool,
    sources: Vec<Source>,
    health: Arc<Health>,
    cancel: CancellationToken,
) {
    let tasks: Vec<_> = sources
        .into_iter()
        .map(|source| {
            tokio::spawn(run_source(
                pool.clone(),
                source,
                health.clone(),
                cancel.clone(),
            ))
        })
        .collect();
    for task in tasks {
        if let Err(e) = task.await {
            tracing::error!(error = %e, "A source loop ended abnormally");
        }
    }
}

async fn run_source(pool: PgPool, source: Source, health: Arc<Health>, cancel: CancellationToken) {
    let interval = source.settings.interval;
    let _alive = health.register(source.name(), interval, Utc::now());
    let mut failures = RetryPolicy::outage(interval).intervals();
    let mut lock: Option<SourceLock> = None;
    while !cancel.is_cancelled() {
        if !health.has_verified_credentials(source.name()) {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = verify_credentials(&source, &health) => {}
            }
        }
        let wait = match ensure_lock(&pool, &source, &health, &mut lock).await {
            Ok(true) => pass(&pool, &source, &health, &cancel, &mut failures).await,
            Ok(false) => Some(interval),
            Err(e) => {
                health.pass_failed(source.name());
                crate::events::database_up(false);
                let wait = failures.next_wait().min(interval);
                tracing::error!(
                    source = source.name(), code = "DatabaseError", retry_in_ms = wait.as_millis() as u64,
                    error = %e, "Cannot reach the database for the source lock; will try again"
                );
                Some(wait)
            }
        };
        let Some(wait) = wait else { break };
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
    health.set_owned(source.name(), false, Utc::now());
    tracing::info!(source = source.name(), "Source loop stopped");
}

/// One request with the source's credentials, so that a standby, which makes no other, is ready only once
/// they work.
async fn verify_credentials(source: &Source, health: &Health) {
    match source.fetcher.probe().await {
        Ok(request_id) => {
            health.credentials_verified(source.name());
            tracing::info!(
                source = source.name(),
                request_id,
                "CCC credentials accepted"
            );
        }
        Err(e) => tracing::error!(
            source = source.name(), code = e.code(), request_id = e.request_id(), hint = e.hint(),
            error = %e, "CCC credentials check failed; this replica is not ready until it passes"
        ),
    }
}

/// Keeps or takes the source's lock; `Ok(false)` when another replica holds it.
async fn ensure_lock(
    pool: &PgPool,
    source: &Source,
    health: &Health,
    lock: &mut Option<SourceLock>,
) -> Result<bool, sqlx::Error> {
    if let Some(held) = lock {
        if held.still_held().await {
            crate::events::database_up(true);
            return Ok(true);
        }
        tracing::warn!(
            source = source.name(),
            "Lost the source lock with its database session"
        );
        *lock = None;
        health.set_owned(source.name(), false, Utc::now());
    }
    let taken = SourceLock::try_acquire(&pool.connect_options(), source.name()).await?;
    crate::events::database_up(true);
    match taken {
        Some(taken) => {
            tracing::info!(source = source.name(), "This replica now syncs the source");
            *lock = Some(taken);
            health.set_owned(source.name(), true, Utc::now());
            Ok(true)
        }
        None => {
            tracing::debug!(
                source = source.name(),
                "Another replica syncs the source; standing by"
            );
            health.set_owned(source.name(), false, Utc::now());
            Ok(false)
        }
    }
}

/// One pass inside the loop; `None` when shutdown interrupted it, else how long to wait before the next.
async fn pass(
    pool: &PgPool,
    source: &Source,
    health: &Health,
    cancel: &CancellationToken,
    failures: &mut crate::retry::Intervals,
) -> Option<Duration> {
    let interval = source.settings.interval;
    let started = Instant::now();
    match sync_source(pool, source, Utc::now(), cancel).await {
        Ok(pass) => {
            failures.reset();
            crate::events::database_up(true);
            health.pass_succeeded(source.name(), pass.watermark, Utc::now());
            let written = pass.written();
            tracing::info!(
                source = source.name(), windows = pass.windows.len(), records = pass.records(),
                rows_written = written.rows(), watermark = %pass.watermark,
                elapsed_ms = started.elapsed().as_millis() as u64, "Pass completed"
            );
            Some(interval)
        }
        Err(SyncError::Interrupted) => None,
        Err(e) => {
            health.pass_failed(source.name());
            if matches!(e, SyncError::Database { .. }) {
                crate::events::database_up(false);
            }
            let wait = failures.next_wait().min(interval);
            tracing::error!(
                source = source.name(), code = e.code(), retry_in_ms = wait.as_millis() as u64,
                error = %e, "Pass failed; will try again"
            );
            Some(wait)
        }
    }
}
