//! One window, streamed from the fetcher into one transaction: its pages batched into the writer, then its
//! journal entry and the watermark, then the commit. A crash at any moment leaves the whole window or none of it.

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

/// Pages buffered between the fetcher and the writer: enough to overlap requests with a write.
const PAGES_IN_FLIGHT: usize = 4;

/// Records written by one set of statements. Fewer round trips per record until PostgreSQL's own work per
/// row dominates; small enough that a batch (with its column arrays) stays a few megabytes.
pub(crate) const BATCH_RECORDS: usize = 1_000;

/// Fetches `window` and commits it, with its journal entry and the watermark, in one transaction: `tx`
/// when given (a pass's first window shares the transaction that read the state), else a new one.
pub(super) async fn sync_window_in(
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
    journal::window_ended(pool, source, &report, &result, started).await;
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
