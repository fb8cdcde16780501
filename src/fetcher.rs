//! Pages one time window to its end: every request (retries included) paced by the source's adaptive rate
//! ([`crate::rate`]), each retried by [`crate::retry`], records deduplicated by key within the window.
//!
//! Paging stops on a page shorter than `PageSize`, never on `TotalCount`: calls that end while we page shift
//! later pages (so a record can show up twice, which the dedup absorbs) and one `TotalCount` is stale at once.
//! The first page's `TotalCount` only says how far to request ahead: up to [`PAGES_AHEAD`] pages at once
//! within it, one at a time past it. The pages are still handed on in order, and a window with one page
//! costs one request.
//!
//! A window must fit the service's limits ([`QueryLimits`]): one query reaches at most `max_page_number`
//! pages and spans at most `max_window`. A window longer than that, or whose first page announces more
//! records than the pages reach, is fetched as its two halves instead (each split again if need be, down to
//! `min_window`); the writer still gets one window, deduplicated across its parts. When the service refuses a
//! page number, a window length or a page size (`InvalidParameter` naming it), the source's limits are
//! lowered once, with a warning, and the window split or its page shrunk; a minimum-span window still over
//! the limits fails, naming itself and its count, never truncated.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ccc::{
    AgentLeg, Api, CallRecord, CccClient, CccError, FileLink, InvalidRecord, PageRequest, Recording,
};
use crate::config::QueryLimits;
use crate::pii::PhoneNumbers;
use crate::rate::{AdaptiveRate, Answer};
use crate::retry::{self, GaveUp, RetryPolicy};
use crate::window::Window;

/// A safety stop for a window that never ends (a service that always returns full pages).
pub(crate) const MAX_PAGES_PER_WINDOW: u32 = 100_000;

/// Requests in flight for one window while the first page's `TotalCount` says more pages follow: the
/// service's answer time is then spent once per few pages, not once per page. The adaptive rate still
/// spaces every request.
pub const PAGES_AHEAD: usize = 4;

/// One page, ready for the writer.
#[derive(Debug)]
pub struct FetchedPage {
    pub page_number: u32,
    pub request_id: String,
    /// Records not seen earlier in this window.
    pub records: Vec<CallRecord>,
    pub invalid: Vec<InvalidRecord>,
    /// Records on the page, duplicates and invalid ones included.
    pub received: usize,
    pub duplicates: usize,
}

/// Why a window could not be fetched to its end.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("page {page} failed after {attempts} attempt(s): {source}")]
    Request {
        page: u32,
        attempts: u32,
        #[source]
        source: CccError,
    },
    #[error(
        "the window still had full pages after {MAX_PAGES_PER_WINDOW} pages; use a smaller chunk"
    )]
    TooManyPages,
    #[error(
        "window {window} holds at least {total} records (RequestId {request_id}), more than one query reaches ({reachable}), and is not split shorter than min_window; raise page_size or max_page_number if the service allows, or lower min_window"
    )]
    TooDense {
        window: Window,
        /// The first page's `TotalCount`, or one more than the pages reached when they were all full.
        total: i64,
        reachable: i64,
        request_id: String,
    },
    #[error(
        "page {page} (RequestId {request_id}) holds call {contact_id} starting at {start_ms}, outside the window {window} it was asked for; the page was not stored"
    )]
    OutsideWindow {
        page: u32,
        request_id: String,
        contact_id: String,
        start_ms: i64,
        window: Window,
    },
    #[error("the details of call {contact_id} failed after {attempts} attempt(s): {source}")]
    Details {
        contact_id: String,
        attempts: u32,
        #[source]
        source: CccError,
    },
    #[error("the link to recording {file_name} failed after {attempts} attempt(s): {source}")]
    Link {
        file_name: String,
        attempts: u32,
        #[source]
        source: CccError,
    },
    #[error("shutting down")]
    Cancelled,
}

/// The codes with which the service says a recording file (or its call) is not there any more.
const GONE_CODES: &[&str] = &[
    "NotExist.Record",
    "NotExists.Recording",
    "NotExists.ContactId",
];

/// What the service said of a recording file asked for.
#[derive(Debug)]
pub(crate) enum LinkAnswer {
    /// A fresh link.
    Link(FileLink),
    /// The service no longer has the file: why, with the RequestId.
    Gone(String),
}

impl FetchError {
    pub(crate) fn ccc(&self) -> Option<&CccError> {
        match self {
            FetchError::Request { source, .. }
            | FetchError::Details { source, .. }
            | FetchError::Link { source, .. } => Some(source),
            _ => None,
        }
    }

    /// A short stable name for the failures that are not the service's.
    pub(crate) fn own_code(&self) -> Option<&'static str> {
        match self {
            FetchError::TooManyPages => Some("TooManyPages"),
            FetchError::TooDense { .. } => Some("WindowTooDense"),
            FetchError::OutsideWindow { .. } => Some("RecordOutsideWindow"),
            FetchError::Request { .. }
            | FetchError::Details { .. }
            | FetchError::Link { .. }
            | FetchError::Cancelled => None,
        }
    }

    /// The request behind the failure, when one is known.
    pub(crate) fn request_id(&self) -> Option<&str> {
        match self {
            FetchError::Request { source, .. }
            | FetchError::Details { source, .. }
            | FetchError::Link { source, .. } => source.request_id(),
            FetchError::TooDense { request_id, .. }
            | FetchError::OutsideWindow { request_id, .. } => Some(request_id),
            FetchError::TooManyPages | FetchError::Cancelled => None,
        }
    }
}

/// How one part of a window ended.
enum Part {
    Done,
    /// Fetch its halves instead.
    Split,
    /// Fetch it again (the page size shrank).
    Again,
    /// An error was sent, or the receiver is gone.
    Stop,
}

/// Fetches windows for one source.
#[derive(Clone)]
pub struct Fetcher {
    pub source: Arc<str>,
    pub instance_id: Arc<str>,
    api: Api,
    client: CccClient,
    /// Shared by the clones, so every request of the source is paced by one rate.
    rate: Arc<Mutex<AdaptiveRate>>,
    retry: RetryPolicy,
    /// Shared by the clones: lowered for good when the service refuses a page size...
    page_size: Arc<AtomicU32>,
    /// ...and these when it refuses a page number or a window length.
    limits: Arc<Mutex<QueryLimits>>,
    /// Applied to every record before it leaves the fetcher, so nothing unprotected reaches the writer.
    phone_numbers: Arc<PhoneNumbers>,
}

impl Fetcher {
    /// `max_requests_per_second` is the ceiling of the adaptive rate, never exceeded.
    pub(crate) fn new(
        settings: &crate::config::SourceSettings,
        client: CccClient,
        retry: RetryPolicy,
        phone_numbers: PhoneNumbers,
    ) -> Self {
        let source = settings.name.as_str();
        let rate = AdaptiveRate::new(settings.max_requests_per_second, now());
        crate::events::api_request_rate(source, rate.rate());
        Fetcher {
            source: source.into(),
            instance_id: settings.instance_id.as_str().into(),
            api: settings.api,
            client,
            rate: Arc::new(Mutex::new(rate)),
            retry,
            page_size: Arc::new(AtomicU32::new(settings.page_size)),
            limits: Arc::new(Mutex::new(settings.limits)),
            phone_numbers: Arc::new(phone_numbers),
        }
    }

    fn limits(&self) -> QueryLimits {
        *self.limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn page_size(&self) -> u32 {
        self.page_size.load(Ordering::Relaxed)
    }

    /// The source's request rate right now, in requests per second.
    pub fn request_rate(&self) -> f64 {
        self.pace().rate()
    }

    fn pace(&self) -> std::sync::MutexGuard<'_, AdaptiveRate> {
        self.rate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One request in its turn, counted and timed for the metrics; its answer adapts the rate.
    async fn send(&self, request: &PageRequest) -> Result<crate::ccc::ListPage, CccError> {
        self.paced(|| self.client.list_calls(self.api, request))
            .await
    }

    /// One request of any kind in its turn, counted and timed; its answer adapts the rate.
    pub(crate) async fn paced<T, F, Fut>(&self, request: F) -> Result<T, CccError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, CccError>>,
    {
        let wait = self.pace().acquire(now());
        tokio::time::sleep(wait).await;
        let started = Instant::now();
        let result = request().await;
        let code = result.as_ref().map_or_else(CccError::code, |_| "OK");
        crate::events::api_request(&self.source, code, started.elapsed());
        let answer = match &result {
            Ok(_) => Answer::Success,
            Err(e) if e.is_throttling() => Answer::Throttled,
            Err(_) => Answer::Failed,
        };
        let (lowered, rate) = {
            let mut pace = self.pace();
            (pace.record(answer, now()), pace.rate())
        };
        crate::events::api_request_rate(&self.source, rate);
        if let Some(lowered) = lowered {
            tracing::debug!(
                source = %self.source, from = lowered.from, to = lowered.to,
                request_id = result.as_ref().err().and_then(CccError::request_id),
                "Request rate lowered after throttling"
            );
        }
        result
    }

    /// One request for one record of the last five minutes, not retried: do these credentials work now?
    /// Returns the answer's RequestId.
    pub(crate) async fn probe(&self) -> Result<String, CccError> {
        let request = PageRequest::probe(&self.instance_id, chrono::Utc::now());
        let result = self.send(&request).await;
        if let Err(e) = &result
            && e.is_expired_token()
        {
            // The next probe fetches new credentials.
            self.client.credentials().invalidate();
        }
        result.map(|page| page.request_id)
    }

    /// Fetches one page, retrying what may succeed later. Each attempt waits its turn at the source's rate.
    pub async fn page(
        &self,
        window: &Window,
        page_number: u32,
        cancel: &CancellationToken,
    ) -> Result<crate::ccc::ListPage, FetchError> {
        self.page_of(window, page_number, self.page_size(), cancel)
            .await
    }

    /// [`Fetcher::page`] of a given size.
    async fn page_of(
        &self,
        window: &Window,
        page_number: u32,
        page_size: u32,
        cancel: &CancellationToken,
    ) -> Result<crate::ccc::ListPage, FetchError> {
        let request = PageRequest {
            instance_id: self.instance_id.to_string(),
            page_number,
            page_size,
            start_time_ms: window.start_ms(),
            stop_time_ms: window.end_ms(),
        };
        let what = format!("window {window} page {page_number}");
        self.retried(&what, || self.send(&request), cancel)
            .await
            .map_err(|gave_up| match gave_up {
                GaveUp::Failed { error, attempts } => FetchError::Request {
                    page: page_number,
                    attempts,
                    source: error,
                },
                GaveUp::Cancelled => FetchError::Cancelled,
            })
    }

    /// One call's agent legs and recordings (2.0 `GetCallDetailRecord` and `ListMonoRecordings`), each
    /// request retried like a page. The call's skill group ids and names (comma lists) name its legs' groups.
    pub(crate) async fn call_details(
        &self,
        contact_id: &str,
        (skill_group_ids, skill_group_names): (Option<&str>, Option<&str>),
        cancel: &CancellationToken,
    ) -> Result<(Vec<AgentLeg>, Vec<Recording>), FetchError> {
        let failed = |gave_up| match gave_up {
            GaveUp::Failed { error, attempts } => FetchError::Details {
                contact_id: contact_id.to_owned(),
                attempts,
                source: error,
            },
            GaveUp::Cancelled => FetchError::Cancelled,
        };
        let what = format!("details of call {contact_id}");
        let instance = &self.instance_id;
        let detail = self
            .retried(
                &what,
                || self.paced(|| self.client.get_call_detail_record(instance, contact_id)),
                cancel,
            )
            .await
            .map_err(failed)?;
        let (_, recordings) = self
            .retried(
                &what,
                || self.paced(|| self.client.list_mono_recordings(instance, contact_id)),
                cancel,
            )
            .await
            .map_err(failed)?;
        Ok((
            detail.agent_legs(skill_group_ids, skill_group_names),
            recordings,
        ))
    }

    /// A fresh download link to one recording file of a call: `DownloadRecording` on CCC 1.0 (agent and
    /// instance sources), `ListMonoRecordings` on 2.0. Retried like a page.
    pub(crate) async fn recording_link(
        &self,
        contact_id: &str,
        file_name: &str,
        cancel: &CancellationToken,
    ) -> Result<LinkAnswer, FetchError> {
        let instance = &self.instance_id;
        let what = format!("link to recording {file_name}");
        let answer = match self.api {
            Api::Agent | Api::Instance => self
                .retried(
                    &what,
                    || self.paced(|| self.client.download_recording(instance, file_name)),
                    cancel,
                )
                .await
                .map(|(_, link)| LinkAnswer::Link(link)),
            Api::Ccc2 => self
                .retried(
                    &what,
                    || self.paced(|| self.client.mono_recording_links(instance, contact_id)),
                    cancel,
                )
                .await
                .map(|(request_id, links)| {
                    match links.into_iter().find(|l| l.file_name == file_name) {
                        Some(link) => LinkAnswer::Link(link),
                        None => LinkAnswer::Gone(format!(
                            "not listed by ListMonoRecordings (RequestId {request_id})"
                        )),
                    }
                }),
        };
        match answer {
            Ok(answer) => Ok(answer),
            Err(GaveUp::Cancelled) => Err(FetchError::Cancelled),
            Err(GaveUp::Failed { error, .. }) if GONE_CODES.contains(&error.code()) => {
                Ok(LinkAnswer::Gone(error.to_string()))
            }
            Err(GaveUp::Failed { error, attempts }) => Err(FetchError::Link {
                file_name: file_name.to_owned(),
                attempts,
                source: error,
            }),
        }
    }

    /// Sends a request until it succeeds or is not worth retrying. An expired STS token is not retried as is:
    /// the credentials are fetched again and the request resent once, within the same attempt. A second
    /// expiry is fatal, as fresh keys did not help.
    async fn retried<T, F, Fut>(
        &self,
        what: &str,
        send: F,
        cancel: &CancellationToken,
    ) -> Result<T, GaveUp<CccError>>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, CccError>>,
    {
        let attempt = || async {
            match send().await {
                Err(e) if e.is_expired_token() => {
                    tracing::info!(
                        source = %self.source, what, request_id = e.request_id(),
                        credentials = %self.client.credentials(),
                        "Security token expired; fetching new credentials"
                    );
                    self.client.credentials().invalidate();
                    send().await
                }
                outcome => outcome,
            }
        };
        let on_retry = |e: &CccError, wait: Duration, attempt: u32| {
            crate::events::api_retry(&self.source, e.code(), e.is_throttling());
            tracing::warn!(
                source = %self.source, what, attempt,
                code = e.code(), request_id = e.request_id(), wait_ms = wait.as_millis() as u64,
                throttled = e.is_throttling(), error = %e,
                "Retrying CCC request"
            );
        };
        retry::retry(&self.retry, cancel, attempt, on_retry).await
    }

    /// Pages `window` to its end into `pages`, deduplicating by `(InstanceId, ContactId)`. Returns when
    /// the window is done, on the first error (also sent), or when the receiver is gone.
    pub async fn fetch_window(
        &self,
        window: Window,
        pages: mpsc::Sender<Result<FetchedPage, FetchError>>,
        cancel: CancellationToken,
    ) {
        let lowered_before = self.pace().times_lowered();
        self.fetch_pages(&window, pages, cancel).await;
        let pace = self.pace();
        let lowered = pace.times_lowered() - lowered_before;
        if lowered > 0 {
            tracing::info!(
                source = %self.source, window = %window, lowered,
                rate = pace.rate(), ceiling = pace.ceiling(),
                "Request rate adapted to throttling"
            );
        }
    }

    async fn fetch_pages(
        &self,
        window: &Window,
        pages: mpsc::Sender<Result<FetchedPage, FetchError>>,
        cancel: CancellationToken,
    ) {
        let mut seen: HashSet<(Option<String>, String)> = HashSet::new();
        // Parts still to fetch, the next last: oldest first.
        let mut parts = vec![*window];
        let mut splits = 0u32;
        while let Some(part) = parts.pop() {
            let too_long = self
                .limits()
                .max_window
                .is_some_and(|max| part.span() > max);
            let outcome = if too_long && self.can_split(&part) {
                Part::Split
            } else {
                self.fetch_part(&part, &mut seen, &pages, &cancel).await
            };
            match outcome {
                Part::Done => {}
                Part::Split => {
                    let (older, newer) = part.halves();
                    parts.push(newer);
                    parts.push(older);
                    splits += 1;
                }
                Part::Again => parts.push(part),
                Part::Stop => return,
            }
        }
        if splits > 0 {
            crate::events::window_splits(&self.source, splits);
            tracing::info!(
                source = %self.source, window = %window, splits,
                "Window fetched in parts to fit the service's limits"
            );
        }
    }

    /// Whether `part`'s halves would still be at least `min_window` long.
    fn can_split(&self, part: &Window) -> bool {
        part.span() >= self.limits().min_window * 2
    }

    /// Pages one part of a window to its end, or says why it must be split or fetched again.
    async fn fetch_part(
        &self,
        part: &Window,
        seen: &mut HashSet<(Option<String>, String)>,
        pages: &mpsc::Sender<Result<FetchedPage, FetchError>>,
        cancel: &CancellationToken,
    ) -> Part {
        let page_size = self.page_size();
        let max_pages = self
            .limits()
            .max_page_number
            .unwrap_or(MAX_PAGES_PER_WINDOW)
            .min(MAX_PAGES_PER_WINDOW);
        let mut in_flight = FuturesOrdered::new();
        let mut next_page = 1;
        // Pages the first page's TotalCount announces; until it is known, just the first.
        let mut announced = 1;
        loop {
            let ahead = |page| if page <= announced { PAGES_AHEAD } else { 1 };
            while in_flight.len() < ahead(next_page) && next_page <= max_pages {
                let number = next_page;
                in_flight.push_back(async move {
                    (number, self.page_of(part, number, page_size, cancel).await)
                });
                next_page += 1;
            }
            let Some((page_number, page)) = in_flight.next().await else {
                break;
            };
            let page = match page {
                Ok(page) => page,
                Err(e) => return self.refused(part, page_number, page_size, e, pages).await,
            };
            if page_number == 1 {
                let size = i64::from(page_size);
                let reachable = i64::from(max_pages) * size;
                let total = page.total_count.unwrap_or(0).max(0);
                if total > reachable {
                    return self
                        .too_dense(part, total, reachable, page.request_id, pages)
                        .await;
                }
                announced = u32::try_from((total + size - 1) / size).unwrap_or(1).max(1);
            }
            if let Some(outside) = page
                .records
                .iter()
                .find(|r| !(part.start_ms()..=part.end_ms()).contains(&r.start_time_ms))
            {
                let error = FetchError::OutsideWindow {
                    page: page_number,
                    request_id: page.request_id.clone(),
                    contact_id: outside.contact_id.clone(),
                    start_ms: outside.start_time_ms,
                    window: *part,
                };
                let _ = pages.send(Err(error)).await;
                return Part::Stop;
            }
            let received = page.len();
            let last = received < page_size as usize;
            let request_id = page.request_id.clone();
            if pages
                .send(Ok(self.fetched(page_number, page, seen)))
                .await
                .is_err()
            {
                return Part::Stop;
            }
            if last {
                return Part::Done;
            }
            if page_number == max_pages && max_pages < MAX_PAGES_PER_WINDOW {
                // Full pages to the last one served: more records than the TotalCount said.
                let reachable = i64::from(max_pages) * i64::from(page_size);
                return self
                    .too_dense(part, reachable + 1, reachable, request_id, pages)
                    .await;
            }
        }
        let _ = pages.send(Err(FetchError::TooManyPages)).await;
        Part::Stop
    }

    /// A part holding more records than one query reaches: split, or failed when it is as short as allowed.
    async fn too_dense(
        &self,
        part: &Window,
        total: i64,
        reachable: i64,
        request_id: String,
        pages: &mpsc::Sender<Result<FetchedPage, FetchError>>,
    ) -> Part {
        if self.can_split(part) {
            tracing::debug!(
                source = %self.source, window = %part, total, reachable, request_id,
                "Window holds more records than one query reaches; splitting it"
            );
            return Part::Split;
        }
        let error = FetchError::TooDense {
            window: *part,
            total,
            reachable,
            request_id,
        };
        let _ = pages.send(Err(error)).await;
        Part::Stop
    }

    /// A page that failed: when the service refused a page number, a window length or a page size, the
    /// source's limit is lowered (and said once) and the part split or fetched again; otherwise the error is
    /// sent.
    async fn refused(
        &self,
        part: &Window,
        page_number: u32,
        page_size: u32,
        error: FetchError,
        pages: &mpsc::Sender<Result<FetchedPage, FetchError>>,
    ) -> Part {
        let refused = error.ccc().and_then(CccError::refused_parameter);
        let adapted = match refused {
            Some("PageNumber") if page_number > 1 && self.can_split(part) => {
                self.lower(|l| l.max_page_number = Some(page_number - 1));
                Some(Part::Split)
            }
            Some("StartTime" | "StopTime" | "EndTime") if self.can_split(part) => {
                self.lower(|l| l.max_window = Some(part.span() / 2));
                Some(Part::Split)
            }
            Some("PageSize") if page_size > 1 => {
                self.page_size.store(page_size / 2, Ordering::Relaxed);
                Some(Part::Again)
            }
            _ => None,
        };
        match adapted {
            Some(next) => {
                let limits = self.limits();
                tracing::warn!(
                    source = %self.source, window = %part, page = page_number,
                    parameter = refused, request_id = error.request_id(), error = %error,
                    page_size = self.page_size(), max_page_number = limits.max_page_number,
                    max_window = limits.max_window.map(|w| humantime::format_duration(w).to_string()),
                    "The service refused a query limit; lowered it for this source (set it in the configuration to keep it)"
                );
                next
            }
            None => {
                let _ = pages.send(Err(error)).await;
                Part::Stop
            }
        }
    }

    fn lower(&self, change: impl FnOnce(&mut QueryLimits)) {
        change(&mut self.limits.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// A page's new records, protected, ready for the writer.
    fn fetched(
        &self,
        page_number: u32,
        page: crate::ccc::ListPage,
        seen: &mut HashSet<(Option<String>, String)>,
    ) -> FetchedPage {
        let received = page.len();
        let mut records = page.records;
        records.retain(|r| seen.insert((r.instance_id.clone(), r.contact_id.clone())));
        let mut invalid = page.invalid;
        records.iter_mut().for_each(|r| self.phone_numbers.apply(r));
        invalid
            .iter_mut()
            .for_each(|i| self.phone_numbers.apply_to_json(&mut i.raw));
        FetchedPage {
            page_number,
            request_id: page.request_id,
            duplicates: received - records.len() - invalid.len(),
            records,
            invalid,
            received,
        }
    }
}

/// The pace is kept on tokio's clock, so a test with a paused clock paces without waiting.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}
