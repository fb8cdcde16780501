//! The recording archive: copies each recording file of the warehouse into the customer's own storage
//! before the service deletes it, and records where.
//!
//! For each file not yet archived, oldest call first: a fresh link from the service (`DownloadRecording`
//! on 1.0, `ListMonoRecordings` on 2.0, paced by the source's request rate), a streaming download hashed
//! with SHA-256 as it passes into a multipart upload, and only once the object is complete, a row in
//! `ccc.recording_archive` saying so. A killed archiver leaves at most files without a row, which the next
//! pass copies again to the same key with the same bytes: never a row claiming an object that is not there.
//!
//! A link refused by OSS (403, 404: expired, or the file deleted) is asked for once more; refused again, or
//! refused by the service itself (`NotExist.Record`), the file is `gone`, with the reason, and not tried
//! again. A transient failure (a reset download, a 5xx) is retried with backoff for `retry_for`, then the
//! file waits (`failing`, with a growing `retry_after`) while the others go on.

mod store;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::ccc::FileLink;
use crate::config::RecordingsSettings;
use crate::fetcher::{FetchError, LinkAnswer};
use crate::lock::SourceLock;
use crate::retry::{self, GaveUp, RetryPolicy};
use crate::scheduler::Source;
pub use store::{Backlog, PendingFile, backlog};
pub use target::Target;

/// Files read from the backlog at a time.
const BATCH: i64 = 200;

/// How often a long pass logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How often a long pass counts its backlog again for the metrics (a count reads every recording).
const BACKLOG_EVERY: Duration = Duration::from_secs(60);

/// The most of an OSS error body read (it is a short XML document).
const ERROR_BODY_BYTES: usize = 16 * 1024;

/// What a pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveStats {
    pub archived: u64,
    pub bytes: u64,
    pub gone: u64,
    /// Files set aside after transient failures, tried again in a later pass.
    pub failed: u64,
    /// Links asked for again after OSS refused one.
    pub links_refreshed: u64,
}

impl ArchiveStats {
    fn add(&mut self, other: ArchiveStats) {
        self.archived += other.archived;
        self.bytes += other.bytes;
        self.gone += other.gone;
        self.failed += other.failed;
        self.links_refreshed += other.links_refreshed;
    }
}

/// Why a pass stopped before its backlog was done.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("recording archive of source {source_name}: database: {error}")]
    Database {
        source_name: String,
        error: sqlx::Error,
    },
    /// The service refused in a way no file can get past (permissions, instance): nothing is marked.
    #[error("recording archive of source {source_name}: {error}{}", hint(.error))]
    Service {
        source_name: String,
        error: FetchError,
    },
    #[error("shutting down")]
    Interrupted,
}

/// The fix for a refusal that stops the archive: a permission one is the archive's own.
fn hint(error: &FetchError) -> String {
    let Some(ccc) = error.ccc() else {
        return String::new();
    };
    if ccc.code().starts_with("Forbidden") || ccc.code() == "NoPermission" {
        return ". Fix: the archiving source's identity may not fetch recording links; it needs ccc:DownloadRecording (CCC 1.0) or ccc:ListMonoRecordings (2.0) on the whole instance: allow it, or add a source with api = \"instance\" or \"ccc2\" and a RAM identity allowed them, which then archives the instance".into();
    }
    ccc.hint()
        .map_or_else(String::new, |hint| format!(". Fix: {hint}"))
}

/// Which calls a pass covers, by the call's start: `[from, to)`, either end open.
#[derive(Debug, Default, Clone, Copy)]
pub struct Span {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// `run`'s archive: a pass over every archiving source each `interval`, beside the sync (which never
/// waits for it), until shutdown. A failed pass is logged and tried again at the next interval.
pub async fn run(archiver: Archiver, sources: Vec<Source>, cancel: CancellationToken) {
    let interval = archiver.settings.interval;
    tracing::info!(
        target = archiver.target.address(),
        "Archiving recording files"
    );
    loop {
        for source in Archiver::sources(&sources) {
            match archiver
                .archive_locked(source, Span::default(), &cancel)
                .await
            {
                Ok(_) => {}
                Err(ArchiveError::Interrupted) => return,
                Err(error) => tracing::error!(
                    source = source.name(), error = %error,
                    retry_in_ms = interval.as_millis() as u64,
                    "Recording archive pass failed; trying again at the next interval"
                ),
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Copies recording files into one target, at most `concurrency` at once and `max_files_per_second`.
#[derive(Clone)]
pub struct Archiver {
    pool: PgPool,
    target: Target,
    settings: RecordingsSettings,
    http: reqwest::Client,
    /// When the next file may start.
    next_start: Arc<Mutex<Instant>>,
}

/// How one file ended.
enum Outcome {
    Archived {
        size: u64,
        sha256: String,
        content_type: Option<String>,
    },
    Gone(String),
    Failed {
        reason: &'static str,
        error: String,
    },
    /// The service refused in a way every file would be: stop the pass.
    Stop(FetchError),
    Cancelled,
}

/// What a download or upload failed with.
#[derive(Debug)]
enum TransferError {
    /// OSS refused the link (403 expired or tampered, 404 deleted): not retried with the same link.
    Refused { status: u16, code: String },
    /// The download failed on the way (connect, reset, a short body, a 5xx).
    Download(String),
    /// The target refused or failed the upload.
    Upload(String),
}

impl TransferError {
    fn reason(&self) -> &'static str {
        match self {
            TransferError::Refused { .. } | TransferError::Download(_) => "download",
            TransferError::Upload(_) => "upload",
        }
    }
}

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferError::Refused { status, code } => write!(f, "OSS answered {status} {code}"),
            TransferError::Download(e) => write!(f, "download failed: {e}"),
            TransferError::Upload(e) => write!(f, "upload failed: {e}"),
        }
    }
}

impl retry::Retryable for TransferError {
    fn is_retryable(&self) -> bool {
        !matches!(self, TransferError::Refused { .. })
    }

    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl Archiver {
    pub fn new(pool: PgPool, target: Target, settings: RecordingsSettings) -> Archiver {
        let http = reqwest::Client::builder()
            .user_agent(crate::ccc::identity::user_agent())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Archiver {
            pool,
            target,
            settings,
            http,
            next_start: Arc::new(Mutex::new(Instant::now())),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The sources that archive: one per instance, the first whole-instance source of it if there is one
    /// (its keys may download every file), else its first source.
    pub fn sources(sources: &[Source]) -> Vec<&Source> {
        let mut chosen: Vec<&Source> = Vec::new();
        for source in sources {
            let instance = &source.settings.instance_id;
            match chosen
                .iter_mut()
                .find(|s| &s.settings.instance_id == instance)
            {
                None => chosen.push(source),
                Some(held)
                    if source.settings.api.is_whole_instance()
                        && !held.settings.api.is_whole_instance() =>
                {
                    *held = source;
                }
                Some(_) => {}
            }
        }
        chosen
    }

    /// Archives the source's instance's backlog within `span` under the instance's archive lock. `None`
    /// when another process holds the lock (it is archiving the same files).
    pub async fn archive_locked(
        &self,
        source: &Source,
        span: Span,
        cancel: &CancellationToken,
    ) -> Result<Option<ArchiveStats>, ArchiveError> {
        let lock_name = format!("recordings/{}", source.settings.instance_id);
        let lock = SourceLock::try_acquire(&self.pool.connect_options(), &lock_name)
            .await
            .map_err(database(source))?;
        let Some(lock) = lock else {
            return Ok(None);
        };
        let stats = self.archive(source, span, cancel).await;
        drop(lock);
        stats.map(Some)
    }

    /// Archives every file of the source's instance within `span` not archived yet (failing ones once
    /// their wait is over), oldest call first, until none is left or the service refuses outright.
    pub async fn archive(
        &self,
        source: &Source,
        span: Span,
        cancel: &CancellationToken,
    ) -> Result<ArchiveStats, ArchiveError> {
        let instance_id = &source.settings.instance_id;
        let mut total = ArchiveStats::default();
        let mut progress = Progress::new(source.name());
        self.publish_backlog(source).await?;
        let mut counted = Instant::now();
        loop {
            if counted.elapsed() >= BACKLOG_EVERY {
                self.publish_backlog(source).await?;
                counted = Instant::now();
            }
            let batch = store::pending(&self.pool, instance_id, span, BATCH)
                .await
                .map_err(database(source))?;
            if batch.is_empty() {
                break;
            }
            let mut outcomes = futures::stream::iter(batch)
                .map(|file| async move {
                    let key = self.target.key(
                        &file.instance_id,
                        file.call_start,
                        &file.contact_id,
                        &file.file_name,
                    );
                    let outcome = self.one(source, &file, &key, cancel).await;
                    (file, key, outcome)
                })
                .buffer_unordered(self.settings.concurrency);
            // On a refusal that stops the pass, the files still in flight are dropped: an object they may
            // have completed has no row yet, and is copied again by the next pass.
            while let Some((file, key, outcome)) = outcomes.next().await {
                total.add(self.record(source, &file, &key, outcome).await?);
                progress.tick(&total);
            }
        }
        self.publish_backlog(source).await?;
        progress.done(&total);
        Ok(total)
    }

    /// Counts the backlog for the metrics.
    async fn publish_backlog(&self, source: &Source) -> Result<Backlog, ArchiveError> {
        let backlog = store::backlog(&self.pool, &source.settings.instance_id)
            .await
            .map_err(database(source))?;
        let oldest = backlog
            .oldest_call
            .map(|t| (Utc::now() - t).to_std().unwrap_or_default());
        crate::events::recording_backlog(source.name(), backlog.files, oldest);
        Ok(backlog)
    }

    /// Writes how a file ended; `Err` when the pass must stop.
    async fn record(
        &self,
        source: &Source,
        file: &PendingFile,
        key: &object_store::path::Path,
        outcome: (Outcome, u64),
    ) -> Result<ArchiveStats, ArchiveError> {
        let (outcome, links_refreshed) = outcome;
        let mut stats = ArchiveStats {
            links_refreshed,
            ..ArchiveStats::default()
        };
        let name = source.name();
        let written = match outcome {
            Outcome::Archived {
                size,
                sha256,
                content_type,
            } => {
                crate::events::recording_archived(name, size);
                tracing::debug!(source = name, contact_id = %file.contact_id, file_name = %file.file_name, object_key = %key, size, "Recording archived");
                stats.archived = 1;
                stats.bytes = size;
                let archived = store::Archived {
                    target: self.target.address(),
                    object_key: key.as_ref(),
                    size,
                    sha256: &sha256,
                    content_type: content_type.as_deref(),
                };
                store::record_archived(&self.pool, file, &archived).await
            }
            Outcome::Gone(reason) => {
                crate::events::recording_failed(name, "gone");
                tracing::warn!(source = name, contact_id = %file.contact_id, file_name = %file.file_name, reason = %reason, "Recording gone from the service; recorded as gone");
                stats.gone = 1;
                store::record_gone(&self.pool, file, &reason).await
            }
            Outcome::Failed { reason, error } => {
                crate::events::recording_failed(name, reason);
                tracing::warn!(source = name, contact_id = %file.contact_id, file_name = %file.file_name, error = %error, "Recording not archived; it will be tried again later");
                stats.failed = 1;
                store::record_failing(&self.pool, file, &error).await
            }
            Outcome::Stop(error) => {
                crate::events::recording_failed(name, "api");
                return Err(ArchiveError::Service {
                    source_name: name.to_owned(),
                    error,
                });
            }
            Outcome::Cancelled => return Err(ArchiveError::Interrupted),
        };
        written.map_err(database(source))?;
        Ok(stats)
    }

    /// Waits for the file's turn under `max_files_per_second`.
    async fn pace(&self) {
        let gap = Duration::from_secs_f64(1.0 / self.settings.max_files_per_second);
        let start = {
            let mut next = self.next_start.lock().await;
            let start = (*next).max(Instant::now());
            *next = start + gap;
            start
        };
        tokio::time::sleep_until(start).await;
    }

    /// Copies one file to `key`; also how many links it had to ask for again.
    async fn one(
        &self,
        source: &Source,
        file: &PendingFile,
        key: &object_store::path::Path,
        cancel: &CancellationToken,
    ) -> (Outcome, u64) {
        tokio::select! {
            () = cancel.cancelled() => return (Outcome::Cancelled, 0),
            () = self.pace() => {}
        }
        let policy = RetryPolicy::requests(self.settings.retry_for);
        let mut refreshed = 0;
        loop {
            let link = match source
                .fetcher
                .recording_link(&file.contact_id, &file.file_name, cancel)
                .await
            {
                Ok(LinkAnswer::Link(link)) => link,
                Ok(LinkAnswer::Gone(reason)) => return (Outcome::Gone(reason), refreshed),
                Err(FetchError::Cancelled) => return (Outcome::Cancelled, refreshed),
                Err(error) if error.ccc().is_some_and(|e| !e.is_retryable()) => {
                    return (Outcome::Stop(error), refreshed);
                }
                Err(error) => {
                    let error = error.to_string();
                    return (
                        Outcome::Failed {
                            reason: "api",
                            error,
                        },
                        refreshed,
                    );
                }
            };
            let on_retry = |e: &TransferError, wait: Duration, attempt: u32| {
                tracing::info!(
                    source = source.name(), contact_id = %file.contact_id, file_name = %file.file_name,
                    attempt, wait_ms = wait.as_millis() as u64, error = %e, "Retrying recording transfer"
                );
            };
            let copied =
                retry::retry(&policy, cancel, || self.transfer(&link, key), on_retry).await;
            return match copied {
                Ok(outcome) => (outcome, refreshed),
                Err(GaveUp::Cancelled) => (Outcome::Cancelled, refreshed),
                Err(GaveUp::Failed {
                    error: TransferError::Refused { status, code },
                    ..
                }) if refreshed == 0 => {
                    tracing::info!(source = source.name(), contact_id = %file.contact_id, file_name = %file.file_name, status, code = %code, "Download link refused; asking for a fresh one");
                    crate::events::recording_link_refreshed(source.name());
                    refreshed += 1;
                    continue;
                }
                Err(GaveUp::Failed {
                    error: TransferError::Refused { status, code },
                    ..
                }) => (
                    Outcome::Gone(format!("OSS {status} {code} after a fresh link")),
                    refreshed,
                ),
                Err(GaveUp::Failed { error, attempts }) => (
                    Outcome::Failed {
                        reason: error.reason(),
                        error: format!("{error} (after {attempts} attempt(s))"),
                    },
                    refreshed,
                ),
            };
        }
    }

    /// Streams the file at `link` into the target at `key`, hashing it on the way. The object appears
    /// only when the whole body arrived; any failure aborts the upload.
    async fn transfer(
        &self,
        link: &FileLink,
        key: &object_store::path::Path,
    ) -> Result<Outcome, TransferError> {
        let download =
            |e: reqwest::Error| TransferError::Download(crate::ccc::error::chain(&e.without_url()));
        let response = self.http.get(&link.url).send().await.map_err(download)?;
        let status = response.status();
        if matches!(status.as_u16(), 403 | 404) {
            let code = oss_error_code(response).await;
            return Err(TransferError::Refused {
                status: status.as_u16(),
                code,
            });
        }
        if !status.is_success() {
            return Err(TransferError::Download(format!("HTTP {status}")));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let expected = response.content_length();
        let mut writer = self
            .target
            .writer(key, content_type.as_deref())
            .await
            .map_err(|e| TransferError::Upload(e.to_string()))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut body = response.bytes_stream();
        let failed = loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    size += chunk.len() as u64;
                    writer.write(&chunk);
                    if let Err(e) = writer.wait_for_capacity(1).await {
                        break Some(TransferError::Upload(e.to_string()));
                    }
                }
                Some(Err(e)) => break Some(download(e)),
                None if expected.is_some_and(|n| n != size) => {
                    break Some(TransferError::Download(format!(
                        "the body ended after {size} of {} bytes",
                        expected.unwrap_or_default()
                    )));
                }
                None => break None,
            }
        };
        if let Some(error) = failed {
            // The object was never completed; abandoning its parts is all that is left to do.
            let _ = writer.abort().await;
            return Err(error);
        }
        writer
            .finish()
            .await
            .map_err(|e| TransferError::Upload(e.to_string()))?;
        Ok(Outcome::Archived {
            size,
            sha256: hex::encode(hasher.finalize()),
            content_type,
        })
    }
}

/// The `<Code>` of an OSS XML error body, or `HTTP <status>` when there is none.
async fn oss_error_code(response: reqwest::Response) -> String {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() >= ERROR_BODY_BYTES {
            break;
        }
    }
    let text = String::from_utf8_lossy(&body);
    text.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.trim())
        .filter(|code| {
            !code.is_empty()
                && code.len() <= 64
                && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        })
        .map_or_else(|| format!("HTTP {status}"), str::to_owned)
}

fn database(source: &Source) -> impl Fn(sqlx::Error) -> ArchiveError + '_ {
    move |error| ArchiveError::Database {
        source_name: source.name().to_owned(),
        error,
    }
}

/// Logs a long pass's progress every [`PROGRESS_EVERY`].
struct Progress<'a> {
    source: &'a str,
    started: Instant,
    last: Instant,
}

impl<'a> Progress<'a> {
    fn new(source: &'a str) -> Self {
        let now = Instant::now();
        Progress {
            source,
            started: now,
            last: now,
        }
    }

    fn tick(&mut self, total: &ArchiveStats) {
        if self.last.elapsed() >= PROGRESS_EVERY {
            self.last = Instant::now();
            let seconds = self.started.elapsed().as_secs_f64().max(0.001);
            tracing::info!(
                source = self.source,
                archived = total.archived,
                bytes = total.bytes,
                gone = total.gone,
                failed = total.failed,
                files_per_second = (total.archived as f64 / seconds * 10.0).round() / 10.0,
                "Archiving recordings"
            );
        }
    }

    fn done(&self, total: &ArchiveStats) {
        if total.archived + total.gone + total.failed > 0 {
            tracing::info!(
                source = self.source,
                archived = total.archived,
                bytes = total.bytes,
                gone = total.gone,
                failed = total.failed,
                links_refreshed = total.links_refreshed,
                seconds = self.started.elapsed().as_secs(),
                "Recordings archived"
            );
        }
    }
}
