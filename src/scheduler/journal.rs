//! What a window leaves besides its data: a log line and a metric for every outcome, and a `ccc.sync_runs`
//! row for a failure (a committed window's row is written in its own transaction by the writer).

use std::time::Instant;

use sqlx::PgPool;

use crate::ccc::CccError;
use crate::writer::{self, Failure, RunReport};

use super::{Source, SyncError};

/// Logs and counts a window's outcome; journals a failure, whose transaction rolled back with its data.
pub(super) async fn window_ended(
    pool: &PgPool,
    source: &Source,
    report: &RunReport,
    result: &Result<(), SyncError>,
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
            if let Err(journal) = writer::record_failure(pool, report, &failure).await {
                tracing::warn!(source = source.name(), error = %journal, "Could not journal the failed window");
            }
        }
    }
}
