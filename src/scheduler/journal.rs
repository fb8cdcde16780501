//! What a window leaves besides its data: a log line and a metric for every outcome, a `ccc.sync_runs` row
//! for a failure (a committed window's row is written in its own transaction by the writer), and the pruning
//! that keeps `ccc.sync_runs` within its retention.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use sqlx::PgPool;

use crate::ccc::CccError;
use crate::writer::{self, Failure, RunReport};

use super::{Source, SyncError};

/// Logs and counts a window's outcome; journals a failure, whose transaction rolled back with its data.
pub(super) async fn window_ended(
    pool: &PgPool,
    source: &Source,
    report: &RunReport,
    result: Result<(), &SyncError>,
    started: Instant,
) {
    let (window, kind) = (report.window, report.kind);
    match result {
        Ok(()) => crate::events::window_committed(report),
        Err(SyncError::Interrupted) => {}
        Err(_) => crate::events::window_failed(source.name(), kind),
    }
    match result {
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
                request_id: e.request_id(),
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
            if let Err(journal) = writer::record_failure(pool, report, &failure).await {
                tracing::warn!(source = source.name(), error = %journal, "Could not journal the failed window");
            }
        }
    }
}

/// When a source's owner next deletes its `ccc.sync_runs` rows older than the retention.
pub(super) struct Pruning {
    /// How long rows are kept; `None` keeps them all.
    retention: Option<Duration>,
    /// The last attempt, successful or not.
    last: Option<Instant>,
}

impl Pruning {
    /// A pass adds a row or a few per interval: pruning hourly keeps the table within an hour of its
    /// retention, at the cost of one short statement.
    const EVERY: Duration = Duration::from_secs(3600);

    pub(super) fn new(retention: Option<Duration>) -> Self {
        Pruning {
            retention,
            last: None,
        }
    }

    fn due(&self, now: Instant) -> bool {
        self.retention.is_some()
            && self
                .last
                .is_none_or(|last| now.duration_since(last) >= Self::EVERY)
    }

    /// Deletes the source's rows older than the retention, except its latest, when due; a failure is logged
    /// and tried again at the next due time.
    pub(super) async fn prune_if_due(&mut self, pool: &PgPool, source: &str) {
        let now = Instant::now();
        if !self.due(now) {
            return;
        }
        self.last = Some(now);
        let Some(before) = self
            .retention
            .and_then(|r| TimeDelta::from_std(r).ok())
            .and_then(|r| Utc::now().checked_sub_signed(r))
        else {
            return;
        };
        let pruned = async {
            let mut conn = pool.acquire().await?;
            writer::prune_runs(&mut conn, source, before).await
        };
        match pruned.await {
            Ok(0) => tracing::debug!(source, before = %before, "No journal rows to prune"),
            Ok(deleted) => tracing::info!(source, before = %before, deleted, "Journal pruned"),
            Err(e) => tracing::warn!(
                source, error = %e, retry_in_ms = Self::EVERY.as_millis() as u64,
                "Could not prune the journal; will try again"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn pruning_is_due_at_once_then_hourly_and_never_when_retention_is_off() {
        let t0 = Instant::now();
        let mut pruning = Pruning::new(Some(30 * 24 * HOUR));
        assert!(pruning.due(t0), "a new loop prunes at its first pass");
        pruning.last = Some(t0);
        assert!(!pruning.due(t0 + HOUR - Duration::from_secs(1)));
        assert!(pruning.due(t0 + HOUR));

        let off = Pruning::new(None);
        assert!(!off.due(t0));
        assert!(!off.due(t0 + 48 * HOUR));
    }
}
