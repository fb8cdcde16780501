//! Why a window or a pass did not complete, and the stable code each reason is logged and journaled under.

use crate::ccc::CccError;
use crate::fetcher::FetchError;
use crate::window::Window;

use super::Source;

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
    #[error("source {source_name}: {error}")]
    Details {
        source_name: String,
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
    pub(super) fn database(source: &Source) -> impl FnOnce(sqlx::Error) -> SyncError + '_ {
        |error| SyncError::Database {
            source_name: source.name().to_owned(),
            error,
        }
    }

    /// The CCC error behind a failure, if the API was the cause.
    pub(crate) fn ccc(&self) -> Option<&CccError> {
        match self {
            SyncError::Fetch { error, .. } | SyncError::Details { error, .. } => error.ccc(),
            _ => None,
        }
    }

    /// The request behind a failure, when one is known.
    pub(crate) fn request_id(&self) -> Option<&str> {
        match self {
            SyncError::Fetch { error, .. } | SyncError::Details { error, .. } => error.request_id(),
            _ => None,
        }
    }

    /// A short stable name for logs, metrics and `sync_runs.error_code`.
    pub fn code(&self) -> &str {
        match self {
            SyncError::Fetch { error, .. } | SyncError::Details { error, .. } => error
                .own_code()
                .or_else(|| error.ccc().map(CccError::code))
                .unwrap_or("Interrupted"),
            SyncError::Database { .. } => "DatabaseError",
            SyncError::Interrupted => "Interrupted",
        }
    }
}
