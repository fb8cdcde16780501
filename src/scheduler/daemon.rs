//! The daemon's loop: per source, check its credentials once, keep or take its replica lock, run a pass,
//! report health, back off after a failure, and prune the source's journal hourly. Each round is a step tests can drive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::health::Health;
use crate::lock::SourceLock;
use crate::retry::{Intervals, RetryPolicy};

use super::journal::Pruning;
use super::{Source, SyncError, sync_source};

/// Runs passes for every source until `cancel`. Each source is synced by the one replica holding its
/// advisory lock; the others stand by and try again every interval. A failing source backs off (up to its
/// interval) and keeps trying, so a database or API outage never ends the daemon. The holder deletes the
/// source's `ccc.sync_runs` rows older than `sync_runs_retention` (`None` keeps them all).
pub async fn run(
    pool: PgPool,
    sources: Vec<Source>,
    sync_runs_retention: Option<Duration>,
    health: Arc<Health>,
    cancel: CancellationToken,
) {
    let tasks: Vec<_> = sources
        .into_iter()
        .map(|source| {
            let source_loop =
                SourceLoop::new(pool.clone(), source, sync_runs_retention, health.clone());
            tokio::spawn(source_loop.run(cancel.clone()))
        })
        .collect();
    for task in tasks {
        if let Err(e) = task.await {
            tracing::error!(error = %e, "A source loop ended abnormally");
        }
    }
}

/// One source's loop in [`run`].
pub struct SourceLoop {
    pool: PgPool,
    source: Source,
    health: Arc<Health>,
    /// Held while this replica syncs the source.
    lock: Option<SourceLock>,
    /// The waits after consecutive failures; reset by a successful pass.
    failures: Intervals,
    pruning: Pruning,
}

impl SourceLoop {
    pub fn new(
        pool: PgPool,
        source: Source,
        sync_runs_retention: Option<Duration>,
        health: Arc<Health>,
    ) -> Self {
        SourceLoop {
            failures: RetryPolicy::outage(source.settings.interval).intervals(),
            pool,
            source,
            health,
            lock: None,
            pruning: Pruning::new(sync_runs_retention),
        }
    }

    /// Steps until `cancel`, waiting between steps as each one says.
    async fn run(mut self, cancel: CancellationToken) {
        let health = self.health.clone();
        let name = self.source.name().to_owned();
        let _alive = health.register(&name, self.source.settings.interval, Utc::now());
        while !cancel.is_cancelled() {
            let Some(wait) = self.step(&cancel).await else {
                break;
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        health.set_owned(&name, false, Utc::now());
        tracing::info!(source = name, "Source loop stopped");
    }

    /// One round: keeps or takes the lock and, holding it, runs a pass, then prunes the journal when due.
    /// `None` when shutdown interrupted the pass, else how long to wait before the next step.
    pub async fn step(&mut self, cancel: &CancellationToken) -> Option<Duration> {
        let interval = self.source.settings.interval;
        if !self.health.has_verified_credentials(self.source.name()) {
            tokio::select! {
                () = cancel.cancelled() => return None,
                () = self.verify_credentials() => {}
            }
        }
        match self.ensure_lock().await {
            Ok(true) => {
                let wait = self.pass(cancel).await?;
                self.pruning
                    .prune_if_due(&self.pool, self.source.name())
                    .await;
                Some(wait)
            }
            Ok(false) => Some(interval),
            Err(e) => {
                self.health.pass_failed(self.source.name());
                crate::events::database_up(false);
                let wait = self.failures.next_wait().min(interval);
                tracing::error!(
                    source = self.source.name(), code = "DatabaseError", retry_in_ms = wait.as_millis() as u64,
                    error = %e, "Cannot reach the database for the source lock; will try again"
                );
                Some(wait)
            }
        }
    }

    /// One request with the source's credentials, so that a standby, which makes no other, is ready only
    /// once they work.
    async fn verify_credentials(&self) {
        let source = self.source.name();
        match self.source.fetcher.probe().await {
            Ok(request_id) => {
                self.health.credentials_verified(source);
                tracing::info!(source, request_id, "CCC credentials accepted");
            }
            Err(e) => tracing::error!(
                source, code = e.code(), request_id = e.request_id(), hint = e.hint(),
                error = %e, "CCC credentials check failed; this replica is not ready until it passes"
            ),
        }
    }

    /// Keeps or takes the source's lock; `Ok(false)` when another replica holds it.
    async fn ensure_lock(&mut self) -> Result<bool, sqlx::Error> {
        let (source, health) = (self.source.name(), &self.health);
        if let Some(held) = &mut self.lock {
            if held.still_held().await {
                crate::events::database_up(true);
                return Ok(true);
            }
            tracing::warn!(source, "Lost the source lock with its database session");
            self.lock = None;
            health.set_owned(source, false, Utc::now());
        }
        let taken = SourceLock::try_acquire(&self.pool.connect_options(), source).await?;
        crate::events::database_up(true);
        match taken {
            Some(taken) => {
                tracing::info!(source, "This replica now syncs the source");
                self.lock = Some(taken);
                health.set_owned(source, true, Utc::now());
                Ok(true)
            }
            None => {
                tracing::debug!(source, "Another replica syncs the source; standing by");
                health.set_owned(source, false, Utc::now());
                Ok(false)
            }
        }
    }

    /// One pass; `None` when shutdown interrupted it, else how long to wait before the next.
    async fn pass(&mut self, cancel: &CancellationToken) -> Option<Duration> {
        let (source, health) = (&self.source, &self.health);
        let interval = source.settings.interval;
        let started = Instant::now();
        match sync_source(&self.pool, source, Utc::now(), cancel).await {
            Ok(pass) => {
                self.failures.reset();
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
                let wait = self.failures.next_wait().min(interval);
                tracing::error!(
                    source = source.name(), code = e.code(), retry_in_ms = wait.as_millis() as u64,
                    error = %e, "Pass failed; will try again"
                );
                Some(wait)
            }
        }
    }
}
