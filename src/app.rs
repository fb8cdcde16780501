//! The commands behind the CLI, as library functions returning what they did.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::archive::{self, ArchiveError, ArchiveStats, Archiver, Span};
use crate::ccc::PageRequest;
use crate::config::Settings;
use crate::health::Health;
use crate::lock::SourceLock;
use crate::reads::{self, SourceStatus};
use crate::retry::{GaveUp, RetryPolicy, retry};
use crate::scheduler::{self, PassOutcome, Source, SyncError};
use crate::server::{self, ServerState};
use crate::startup::Ready;
use crate::{db, writer};

/// How long `check` retries a transient CCC error (a 503, a throttle) before it gives its verdict, so a
/// deploy gate does not fail at random.
const CHECK_RETRY_FOR: Duration = Duration::from_secs(15);

/// A failure after the configuration was accepted; the process exits with status 1.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot prepare the database {url}: {error}")]
    Database { url: String, error: String },
    #[error("{0}")]
    Sync(Box<SyncError>),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Archive(Box<ArchiveError>),
    #[error("{failed} of {total} source(s) failed")]
    SourcesFailed { failed: usize, total: usize },
    #[error("check failed")]
    CheckFailed,
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> Self {
        AppError::Sync(Box::new(e))
    }
}

/// What `once` did for one source.
#[derive(Debug)]
pub enum OnceOutcome {
    Synced(String, PassOutcome),
    /// A running daemon holds the source; it is synced there.
    HeldElsewhere(String),
}

/// The pool and sources a command works with.
pub struct App {
    pub settings: Settings,
    pub pool: PgPool,
    pub sources: Vec<Source>,
    /// The recording archive, when `[recordings]` turns it on.
    pub archiver: Option<Archiver>,
}

impl App {
    /// The pool and a client per source, from what start-up made ready; connects to nothing yet.
    pub fn new(ready: Ready) -> Result<App, AppError> {
        let Ready {
            settings,
            sources,
            archive,
        } = ready;
        let pool = db::pool(
            settings.database.connect.clone(),
            settings.database.max_connections,
            settings.database.acquire_timeout,
        );
        let sources = sources
            .into_iter()
            .map(Source::new)
            .collect::<Result<_, _>>()
            .map_err(|e| AppError::Usage(e.to_string()))?;
        let archiver = match (archive, &settings.recordings) {
            (Some(target), Some(recordings)) => {
                Some(Archiver::new(pool.clone(), target, recordings.clone()))
            }
            _ => None,
        };
        Ok(App {
            settings,
            pool,
            sources,
            archiver,
        })
    }

    /// A database failure with its cause and the redacted URL (see [`db::explain`]).
    async fn db_error(&self, error: impl std::error::Error + Send + Sync + 'static) -> AppError {
        AppError::Database {
            url: self.settings.database.display_url.clone(),
            error: db::explain(&self.pool, &error).await,
        }
    }

    /// Applies the migrations once; `ccc-sync migrate` and the one-shot commands.
    pub async fn migrate(&self) -> Result<(), AppError> {
        if let Err(e) = db::migrate(&self.pool).await {
            return Err(self.db_error(e).await);
        }
        self.apply_warehouse_settings().await?;
        tracing::info!(database = %self.settings.database.display_url, "Migrations applied");
        Ok(())
    }

    /// Writes the configuration's warehouse settings where the BI views read them.
    async fn apply_warehouse_settings(&self) -> Result<(), AppError> {
        let zone = self.settings.warehouse.business_time_zone.name();
        match writer::set_business_time_zone(&self.pool, zone).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppError::Usage(unknown_zone(zone))),
            Err(e) => Err(self.db_error(e).await),
        }
    }

    /// Applies the migrations, waiting out a database that is not up yet (the daemon must not exit).
    /// Returns false when shutdown came first.
    pub(crate) async fn migrate_patiently(&self, cancel: &CancellationToken) -> bool {
        let mut waits = RetryPolicy::outage(Duration::from_secs(30)).intervals();
        loop {
            match db::migrate(&self.pool).await {
                Ok(()) => return true,
                Err(e) => {
                    let wait = waits.next_wait();
                    let error = db::explain(&self.pool, &e).await;
                    tracing::error!(
                        database = %self.settings.database.display_url, error = %error,
                        retry_in_ms = wait.as_millis() as u64, "Database not ready; will try again"
                    );
                    tokio::select! {
                        () = cancel.cancelled() => return false,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    /// `ccc-sync run`: passes every `interval` until shutdown, with the health server if configured.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), AppError> {
        crate::events::recorder();
        let health = Arc::new(Health::default());
        let server = match self.settings.server_listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    AppError::Usage(format!("server.listen = {addr}: cannot listen ({e})"))
                })?;
                tracing::info!(listen = %addr, "Serving /livez, /readyz and /metrics");
                let state = ServerState {
                    pool: self.pool.clone(),
                    health: health.clone(),
                };
                Some(tokio::spawn(server::serve(listener, state, cancel.clone())))
            }
            None => None,
        };
        if !self.migrate_patiently(&cancel).await {
            tracing::info!("Shutdown requested before the database was ready");
            return Ok(());
        }
        self.apply_warehouse_settings().await?;
        self.publish_stored_state(&health).await;
        health.set_migrated();
        let archiving = self.archiver.clone().map(|archiver| {
            tokio::spawn(archive::run(archiver, self.sources.clone(), cancel.clone()))
        });
        scheduler::run(
            self.pool,
            self.sources,
            self.settings.warehouse.sync_runs_retention,
            health,
            cancel,
        )
        .await;
        if let Some(archiving) = archiving {
            let _ = archiving.await;
        }
        if let Some(server) = server {
            let _ = server.await;
        }
        Ok(())
    }

    /// `ccc-sync recordings archive`: one pass of the recording archive over every archiving source (or
    /// `source`), for calls within `span`. A source whose instance another process is archiving is
    /// reported with `None`.
    pub async fn archive_recordings(
        &self,
        source: Option<&str>,
        span: Span,
        cancel: &CancellationToken,
    ) -> Result<Vec<(String, Option<ArchiveStats>)>, AppError> {
        let Some(archiver) = &self.archiver else {
            return Err(AppError::Usage(
                "the recording archive is off; set [recordings] archive = \"s3\" or \"directory\" (README.md, \"Recording archive\")".into(),
            ));
        };
        let sources = match source {
            Some(name) => vec![self.source(name)?],
            None => Archiver::sources(&self.sources),
        };
        if let (Some(from), Some(to)) = (span.from, span.to)
            && from >= to
        {
            return Err(AppError::Usage(format!(
                "--from {from} is not before --to {to}"
            )));
        }
        self.migrate().await?;
        let mut done = Vec::new();
        for source in sources {
            let stats = archiver
                .archive_locked(source, span, cancel)
                .await
                .map_err(|e| match e {
                    ArchiveError::Interrupted => AppError::Sync(Box::new(SyncError::Interrupted)),
                    e => AppError::Archive(Box::new(e)),
                })?;
            done.push((source.name().to_owned(), stats));
        }
        Ok(done)
    }

    /// The configured source called `name`.
    fn source(&self, name: &str) -> Result<&Source, AppError> {
        self.sources
            .iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.sources.iter().map(Source::name).collect();
                AppError::Usage(format!(
                    "no source named {name:?}; configured: {}",
                    names.join(", ")
                ))
            })
    }

    /// Makes every source known to `health` with its stored watermark (or, for a new source, the one its
    /// first pass will start from), so the lag is exposed before any pass succeeds.
    async fn publish_stored_state(&self, health: &Health) {
        let now = Utc::now();
        let stored = match reads::source_statuses(&self.pool).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read the stored watermarks; lag is exposed after the first pass");
                for source in &self.sources {
                    health.add_source(source.name(), None, now);
                }
                return;
            }
        };
        for source in &self.sources {
            let state = match stored.iter().find(|r| r.source == source.name()) {
                Some(row) => (row.watermark, row.last_success_at),
                None => (source.settings.start_from.resolve(now), None),
            };
            health.add_source(source.name(), Some(state), now);
        }
    }

    /// `ccc-sync once`: one pass over every source not held by a running replica.
    pub async fn once(&self, cancel: &CancellationToken) -> Result<Vec<OnceOutcome>, AppError> {
        self.migrate().await?;
        let mut locks = Vec::new();
        let mut owned = Vec::new();
        let mut outcomes = Vec::new();
        for source in &self.sources {
            match SourceLock::try_acquire(&self.pool.connect_options(), source.name()).await {
                Ok(Some(lock)) => {
                    locks.push(lock);
                    owned.push(source.clone());
                }
                Ok(None) => outcomes.push(OnceOutcome::HeldElsewhere(source.name().to_owned())),
                Err(e) => return Err(self.db_error(e).await),
            }
        }
        let results = scheduler::sync_once(&self.pool, &owned, Utc::now(), cancel).await;
        let mut failed = 0;
        for (source, result) in owned.iter().zip(results) {
            match result {
                Ok(pass) => outcomes.push(OnceOutcome::Synced(source.name().to_owned(), pass)),
                Err(SyncError::Interrupted) => return Err(SyncError::Interrupted.into()),
                Err(e) => {
                    failed += 1;
                    tracing::error!(source = source.name(), code = e.code(), error = %e, "Pass failed");
                }
            }
        }
        drop(locks);
        match failed {
            0 => Ok(outcomes),
            failed => Err(AppError::SourcesFailed {
                failed,
                total: self.sources.len(),
            }),
        }
    }

    /// `ccc-sync backfill`: one source over an explicit span.
    pub async fn backfill(
        &self,
        source: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<PassOutcome, AppError> {
        let source = self.source(source)?;
        if from >= to {
            return Err(AppError::Usage(format!(
                "--from {from} is not before --to {to}"
            )));
        }
        self.migrate().await?;
        Ok(scheduler::backfill(&self.pool, source, from, to, Utc::now(), cancel).await?)
    }

    /// `ccc-sync status`: per source, the watermark, the lag and the last run.
    pub async fn status(&self) -> Result<String, AppError> {
        let rows = match reads::source_statuses(&self.pool).await {
            Ok(rows) => rows,
            Err(e) => return Err(self.db_error(e).await),
        };
        let mut out = render_status(&rows, &self.sources, Utc::now());
        if let Some(archiver) = &self.archiver {
            for source in Archiver::sources(&self.sources) {
                let backlog = match archive::backlog(&self.pool, &source.settings.instance_id).await
                {
                    Ok(backlog) => backlog,
                    Err(e) => return Err(self.db_error(e).await),
                };
                out.push_str(&render_backlog(
                    source.name(),
                    archiver.target().address(),
                    &backlog,
                    Utc::now(),
                ));
            }
        }
        Ok(out)
    }

    /// `ccc-sync check`: the database answers and is migrated, and each source accepts one signed request.
    pub async fn check(&self) -> (bool, String) {
        let mut ok = true;
        let mut out = String::from("configuration: ok\n");
        let zone = self.settings.warehouse.business_time_zone.name();
        match db::migrations_applied(&self.pool).await {
            Ok(applied) => {
                out.push_str(if applied {
                    "database: ok, migrations applied\n"
                } else {
                    "database: reachable, migrations pending (run `ccc-sync migrate`)\n"
                });
                if let Ok(false) = db::knows_time_zone(&self.pool, zone).await {
                    ok = false;
                    let _ = writeln!(out, "database: FAILED: {}", unknown_zone(zone));
                }
            }
            Err(e) => {
                ok = false;
                let _ = writeln!(
                    out,
                    "database: FAILED ({}): {}",
                    self.settings.database.display_url,
                    db::explain(&self.pool, &e).await
                );
            }
        }
        for source in &self.sources {
            let request = PageRequest::probe(&source.settings.instance_id, Utc::now());
            let name = source.name();
            let key = &source.credentials;
            let endpoint = &source.settings.client.endpoint;
            match crate::ccc::CccClient::new(&source.settings.client, source.credentials.clone()) {
                Ok(client) => {
                    let mut retried = Vec::new();
                    let answer = retry(
                        &RetryPolicy::requests(CHECK_RETRY_FOR),
                        &CancellationToken::new(),
                        || client.list_calls(source.settings.api, &request),
                        |e, _, _| retried.push(e.to_string()),
                    )
                    .await;
                    let times = match retried.len() {
                        0 => String::new(),
                        n => format!("; retried {n}×"),
                    };
                    match answer {
                        Ok(page) => {
                            let last = retried.last().map(|e| format!(": {e}")).unwrap_or_default();
                            let _ = writeln!(
                                out,
                                "source {name}: ok ({endpoint}, {key}, RequestId {}{times}{last})",
                                page.request_id
                            );
                        }
                        Err(GaveUp::Failed { error, .. }) => {
                            ok = false;
                            let hint = error
                                .hint()
                                .map(|h| format!(" Fix: {h}."))
                                .unwrap_or_default();
                            let _ = writeln!(
                                out,
                                "source {name}: FAILED ({endpoint}, {key}{times}): {error}.{hint}"
                            );
                        }
                        Err(GaveUp::Cancelled) => unreachable!("check's token is never cancelled"),
                    }
                }
                Err(e) => {
                    ok = false;
                    let _ = writeln!(out, "source {name}: FAILED: {e}");
                }
            }
        }
        if let Some(archiver) = &self.archiver {
            let target = archiver.target();
            match target.probe().await {
                Ok(key) => {
                    let _ = writeln!(
                        out,
                        "recordings: ok ({}, wrote and removed {key})",
                        target.address()
                    );
                }
                Err(e) => {
                    ok = false;
                    let _ = writeln!(
                        out,
                        "recordings: FAILED ({}): {e}. Fix: check the bucket (or directory), its endpoint and region, and that the credentials may write under the prefix",
                        target.address()
                    );
                }
            }
        }
        out.push_str(if ok {
            "verdict: ready\n"
        } else {
            "verdict: NOT ready\n"
        });
        (ok, out)
    }
}

/// The refusal of a business time zone PostgreSQL does not know, for `check` and start-up alike.
fn unknown_zone(zone: &str) -> String {
    format!(
        "warehouse.business_time_zone = {zone:?}: PostgreSQL knows no such time zone. Fix: use an IANA name such as \"Asia/Shanghai\" that `SELECT name FROM pg_timezone_names` lists, or update the server's time-zone data"
    )
}

fn render_status(rows: &[SourceStatus], configured: &[Source], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let ago = |t| ago(now, t);
    for source in configured {
        if !rows.iter().any(|r| r.source == source.name()) {
            let _ = writeln!(out, "{}: never synced", source.name());
        }
    }
    for r in rows {
        let configured = if configured.iter().any(|s| s.name() == r.source) {
            ""
        } else {
            " (not in this config)"
        };
        let _ = writeln!(out, "{}{configured}:", r.source);
        let _ = writeln!(
            out,
            "  watermark     {} (lag {})",
            r.watermark.to_rfc3339(),
            ago(r.watermark)
        );
        let last_success = r.last_success_at.map_or("never".to_owned(), |t| {
            format!("{} ({} ago)", t.to_rfc3339(), ago(t))
        });
        let _ = writeln!(out, "  last success  {last_success}");
        if let (Some(kind), Some(status), Some(at)) = (&r.kind, &r.status, r.finished_at) {
            let _ = writeln!(
                out,
                "  last run      {kind} {status} at {} ({} ago)",
                at.to_rfc3339(),
                ago(at)
            );
        }
        if let (Some("failed"), Some(error)) = (r.status.as_deref(), &r.error) {
            let _ = writeln!(out, "  last error    {error}");
        }
        if r.details_pending > 0 {
            let _ = writeln!(
                out,
                "  call details  {} call(s) still to fetch (agent events and recordings)",
                r.details_pending
            );
        }
    }
    out
}

/// The recording archive's lines of `status` for one archiving source.
fn render_backlog(
    source: &str,
    target: &str,
    backlog: &archive::Backlog,
    now: DateTime<Utc>,
) -> String {
    let oldest = backlog.oldest_call.map_or(String::new(), |t| {
        format!(" (oldest call {} ago)", ago(now, t))
    });
    format!(
        "recordings of {source} -> {target}:\n  waiting       {} file(s){oldest}, {} of them failing\n  archived      {} file(s), {} gone from the service\n",
        backlog.files, backlog.failing, backlog.archived, backlog.gone
    )
}

/// How long before `now` `t` was, in whole seconds, as humantime writes it.
fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    humantime::format_duration(Duration::from_secs((now - t).num_seconds().max(0) as u64))
        .to_string()
}

/// Reads a CLI time: RFC 3339, or epoch milliseconds.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_utc());
    }
    text.parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| format!("{text:?} is neither an RFC 3339 time (2026-11-01T00:00:00+08:00) nor epoch milliseconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_times_are_rfc3339_or_epoch_milliseconds() {
        let t = parse_time("2026-11-01T00:00:00+08:00").expect("rfc3339");
        assert_eq!(t.timestamp_millis(), 1_793_462_400_000);
        assert_eq!(parse_time("1793462400000").expect("ms"), t);
        assert!(
            parse_time("yesterday")
                .expect_err("bad")
                .contains("RFC 3339")
        );
    }
}
