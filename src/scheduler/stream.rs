//! One window in one transaction, in two steps: [`stage_window`] streams its pages from the fetcher into the
//! writer's stage (temporary tables of the transaction), then [`commit_window`] writes the stage into the
//! warehouse with the window's journal entry and the watermark, and commits. A crash at any moment leaves the
//! whole window or none of it.

use std::time::Instant;

use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ccc::CallRecord;
use crate::fetcher::{FetchError, FetchedPage};
use crate::window::Window;
use crate::writer::{self, RunKind, RunReport, WriteStats};

use super::{Source, SyncError, journal};

/// A window's transaction.
pub(super) type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Pages buffered between the fetcher and the stage: enough to overlap requests with a COPY.
const PAGES_IN_FLIGHT: usize = 4;

/// Records COPY'd into the window's stage at a time: a few round trips per window, and a batch (parsed
/// records and their COPY text) stays a few megabytes.
pub(crate) const BATCH_RECORDS: usize = 1_000;

/// A window whose records are staged in its open transaction, waiting for its turn to be written into the
/// warehouse and committed.
pub(super) struct Staged {
    report: RunReport,
    started: Instant,
    tx: Tx,
    stage: writer::Stage,
}

/// Fetches `window` into a stage of its transaction: `tx` when given (a pass's first window shares the
/// transaction that read the state), else a new one. Staging writes no call, leg or recording, so it may run
/// while the window before commits. A failure is journaled.
pub(super) async fn stage_window(
    pool: &PgPool,
    source: &Source,
    window: Window,
    kind: RunKind,
    cancel: &CancellationToken,
    tx: Option<Tx>,
) -> Result<Staged, SyncError> {
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
    match stage_pages(pool, source, &mut report, cancel, tx).await {
        Ok((tx, stage)) => Ok(Staged {
            report,
            started,
            tx,
            stage,
        }),
        Err(error) => {
            journal::window_ended(pool, source, &report, Err(&error), started).await;
            Err(error)
        }
    }
}

/// Writes a staged window into the warehouse, journals it, moves the watermark and commits, all in its
/// transaction; the journal gets a failure too.
pub(super) async fn commit_window(
    pool: &PgPool,
    source: &Source,
    staged: Staged,
    cancel: &CancellationToken,
) -> Result<RunReport, SyncError> {
    let Staged {
        mut report,
        started,
        tx,
        stage,
    } = staged;
    let result = write_staged(source, tx, stage, &mut report, cancel).await;
    journal::window_ended(pool, source, &report, result.as_ref().copied(), started).await;
    result.map(|()| report)
}

async fn write_staged(
    source: &Source,
    mut tx: Tx,
    stage: writer::Stage,
    report: &mut RunReport,
    cancel: &CancellationToken,
) -> Result<(), SyncError> {
    if cancel.is_cancelled() {
        return Err(SyncError::Interrupted);
    }
    let written = stage
        .apply(&mut tx)
        .await
        .map_err(SyncError::database(source))?;
    report.written.add(written);
    writer::finish_window(&mut tx, report)
        .await
        .map_err(SyncError::database(source))?;
    tx.commit().await.map_err(SyncError::database(source))?;
    Ok(())
}

/// Streams the window's pages into its transaction's stage, a batch of about [`BATCH_RECORDS`] records at a
/// time.
async fn stage_pages(
    pool: &PgPool,
    source: &Source,
    report: &mut RunReport,
    cancel: &CancellationToken,
    tx: Option<Tx>,
) -> Result<(Tx, writer::Stage), SyncError> {
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
    let settings = &source.settings;
    let mut stage = writer::Stage::new(settings.api, settings.call_details);
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
            stage
                .add(&mut tx, &source.settings.instance_id, &batch)
                .await
                .map_err(SyncError::database(source))?;
            tracing::debug!(source = source.name(), window = %window, records = batch.len(), "Batch staged");
            batch.clear();
        }
    }
    Ok((tx, stage))
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
