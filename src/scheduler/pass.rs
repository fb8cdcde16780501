//! Which windows a pass covers: from `lookback` before the watermark to now, reaching back `reconcile_span`
//! when a reconciliation is due; or an explicit span for a backfill. Windows are synced one at a time.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::window::{self, Window};
use crate::writer::{self, RunKind, RunReport, WriteStats};

use super::progress::{Progress, Unit};
use super::stream::{Tx, commit_window, stage_window};
use super::{Source, SyncError, details};

/// What one pass over a source did.
#[derive(Debug, Clone)]
pub struct PassOutcome {
    pub windows: Vec<RunReport>,
    pub watermark: DateTime<Utc>,
    /// What fetching call details wrote (`calls`: calls whose details were written).
    pub details: WriteStats,
}

impl PassOutcome {
    pub fn written(&self) -> WriteStats {
        let mut total = WriteStats::default();
        for w in &self.windows {
            total.add(w.written);
        }
        total.legs += self.details.legs;
        total.recordings += self.details.recordings;
        total
    }

    pub fn records(&self) -> u64 {
        self.windows.iter().map(|w| w.records).sum()
    }
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
            // Pinned after this transaction ends, so that a pool of one connection suffices.
            tx.rollback().await.map_err(SyncError::database(source))?;
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
            tx = writer::begin(pool)
                .await
                .map_err(SyncError::database(source))?;
            state
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
    let details = details::fetch_pending(pool, source, cancel).await?;
    Ok(PassOutcome {
        windows,
        watermark: state.watermark.max(end),
        details,
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
    let details = details::fetch_pending(pool, source, cancel).await?;
    Ok(PassOutcome {
        windows,
        watermark,
        details,
    })
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

/// Whether the pool can hand out a connection now, without waiting for one to be released.
fn connection_free(pool: &PgPool) -> bool {
    pool.num_idle() > 0 || pool.size() < pool.options().get_max_connections()
}

/// Passes with fewer windows finish too soon to need a progress display.
const PROGRESS_MIN_WINDOWS: usize = 8;

/// Syncs `windows` one after the other, oldest first; the first failure ends the pass. Each window is fetched
/// and staged while the window before it is written and committed.
///
/// One window written at a time, on purpose: adjacent windows share their boundary millisecond, so two
/// windows writing at once can both hold a call, and a later window that wrote it first would block the
/// earlier one on a row lock while itself waiting for the earlier one to commit. Staging writes no call, leg
/// or recording (at most a quarantined record, which a committing window no longer writes), so it may run
/// ahead by one window, on a second connection, without any wait between the two; when the pool has no
/// connection free (other sources hold them), the next window waits for this one's commit instead.
async fn run_windows(
    pool: &PgPool,
    source: &Source,
    windows: Vec<Window>,
    kind: RunKind,
    cancel: &CancellationToken,
    mut first: Option<Tx>,
) -> Result<Vec<RunReport>, SyncError> {
    let mut progress = if windows.len() >= PROGRESS_MIN_WINDOWS {
        Progress::start(source.name(), Unit::Windows, windows.len() as u64)
    } else {
        Progress::hidden()
    };
    let mut reports = Vec::with_capacity(windows.len());
    let mut calls = 0;
    let mut windows = windows.into_iter();
    let mut staged = match windows.next() {
        Some(window) => Some(stage_window(pool, source, window, kind, cancel, first.take()).await?),
        None => None,
    };
    while let Some(current) = staged.take() {
        let (committed, next) = match windows.next() {
            Some(window) if connection_free(pool) => {
                let (committed, next) = tokio::join!(
                    commit_window(pool, source, current, cancel),
                    stage_window(pool, source, window, kind, cancel, None)
                );
                (committed, Some(next))
            }
            Some(window) => {
                // Other sources hold the other connections: one window after the other, as a wait for a
                // second connection could outlast the pool's acquire timeout.
                let report = commit_window(pool, source, current, cancel).await?;
                let next = stage_window(pool, source, window, kind, cancel, None).await;
                (Ok(report), Some(next))
            }
            None => (commit_window(pool, source, current, cancel).await, None),
        };
        let report = committed?;
        calls += report.records;
        reports.push(report);
        progress.update(reports.len() as u64, calls);
        staged = next.transpose()?;
    }
    if let Some(unused) = first {
        unused.commit().await.map_err(SyncError::database(source))?;
    }
    progress.finish();
    Ok(reports)
}
