//! CCC 2.0's list has no agent legs and no recordings. For each call a `ccc2` source with `call_details` on
//! wrote new or changed (`ccc.calls.details_pending`), `GetCallDetailRecord` gives its agents' events and
//! `ListMonoRecordings` its recording files: two requests per call, paced by the source's request rate and
//! run after the pass's windows. A batch of calls is fetched, then written and unmarked in one transaction,
//! so a killed daemon redoes at most the batch it had not committed, never a committed one.

use futures::{StreamExt as _, TryStreamExt as _};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::fetcher::FetchError;
use crate::writer::{self, CallDetails, WriteStats};

use super::{Source, SyncError};

/// Calls fetched, then committed, at a time.
const BATCH: i64 = 100;

/// Calls whose details are requested at once: their answers overlap while the source's rate paces each
/// request.
const IN_FLIGHT: usize = 8;

/// Fetches and writes the details of every call of the source whose details are pending; what it wrote.
pub(super) async fn fetch_pending(
    pool: &PgPool,
    source: &Source,
    cancel: &CancellationToken,
) -> Result<WriteStats, SyncError> {
    let mut total = WriteStats::default();
    if !source.settings.call_details {
        return Ok(total);
    }
    let instance_id = &source.settings.instance_id;
    loop {
        let mut conn = pool.acquire().await.map_err(SyncError::database(source))?;
        let pending = writer::pending_details(&mut conn, instance_id, BATCH)
            .await
            .map_err(SyncError::database(source))?;
        drop(conn);
        if pending.is_empty() {
            break;
        }
        let details: Vec<CallDetails> = futures::stream::iter(pending)
            .map(|call| async move {
                let groups = (
                    call.skill_group_ids.as_deref(),
                    call.skill_group_names.as_deref(),
                );
                let (legs, recordings) = source
                    .fetcher
                    .call_details(&call.contact_id, groups, cancel)
                    .await?;
                Ok(CallDetails {
                    call,
                    legs,
                    recordings,
                })
            })
            .buffered(IN_FLIGHT)
            .try_collect()
            .await
            .map_err(|error| match error {
                FetchError::Cancelled => SyncError::Interrupted,
                error => SyncError::Details {
                    source_name: source.name().to_owned(),
                    error,
                },
            })?;
        if cancel.is_cancelled() {
            return Err(SyncError::Interrupted);
        }
        let mut tx = writer::begin(pool)
            .await
            .map_err(SyncError::database(source))?;
        let written = writer::write_details(&mut tx, instance_id, &details)
            .await
            .map_err(SyncError::database(source))?;
        tx.commit().await.map_err(SyncError::database(source))?;
        crate::events::call_details(source.name(), written.calls);
        tracing::debug!(
            source = source.name(),
            calls = written.calls,
            legs = written.legs,
            recordings = written.recordings,
            "Call details written"
        );
        total.add(written);
    }
    Ok(total)
}
