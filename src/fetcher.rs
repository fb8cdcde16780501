//! Pages one time window to its end: every request (retries included) paced by the source's adaptive rate
//! ([`crate::rate`]), each retried by [`crate::retry`], records deduplicated by key within the window.
//!
//! Paging stops on a page shorter than `PageSize`, never on `TotalCount`: calls that end while we page shift
//! later pages (so a record can show up twice, which the dedup absorbs) and one `TotalCount` is stale at once.
//! The first page's `TotalCount` only says how far to request ahead: up to [`PAGES_AHEAD`] pages at once
//! within it, one at a time past it. The pages are still handed on in order, and a window with one page
//! costs one request.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ccc::{CallRecord, CccClient, CccError, InvalidRecord, PageRequest};
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
    #[error("shutting down")]
    Cancelled,
}

impl FetchError {
    pub(crate) fn ccc(&self) -> Option<&CccError> {
        match self {
            FetchError::Request { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Fetches windows for one source.
#[derive(Clone)]
pub struct Fetcher {
    pub source: Arc<str>,
    pub instance_id: Arc<str>,
    client: CccClient,
    /// Shared by the clones, so every request of the source is paced by one rate.
    rate: Arc<Mutex<AdaptiveRate>>,
    retry: RetryPolicy,
    page_size: u32,
    /// Applied to every record before it leaves the fetcher, so nothing unprotected reaches the writer.
    phone_numbers: Arc<PhoneNumbers>,
}

impl Fetcher {
    /// `max_requests_per_second` is the ceiling of the adaptive rate, never exceeded.
    pub(crate) fn new(
        source: &str,
        instance_id: &str,
        client: CccClient,
        max_requests_per_second: f64,
        retry: RetryPolicy,
        page_size: u32,
        phone_numbers: PhoneNumbers,
    ) -> Self {
        let rate = AdaptiveRate::new(max_requests_per_second, now());
        crate::events::api_request_rate(source, rate.rate());
        Fetcher {
            source: source.into(),
            instance_id: instance_id.into(),
            client,
            rate: Arc::new(Mutex::new(rate)),
            retry,
            page_size,
            phone_numbers: Arc::new(phone_numbers),
        }
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
        let wait = self.pace().acquire(now());
        tokio::time::sleep(wait).await;
        let started = Instant::now();
        let result = self.client.list_recent_call_records(request).await;
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
        let request = PageRequest {
            instance_id: self.instance_id.to_string(),
            page_number,
            page_size: self.page_size,
            start_time_ms: window.start_ms(),
            stop_time_ms: window.end_ms(),
        };
        // An expired STS token is not retried as is: the credentials are fetched again and the page
        // resent once, within the same attempt. A second expiry is fatal, as fresh keys did not help.
        let attempt = || async {
            match self.send(&request).await {
                Err(e) if e.is_expired_token() => {
                    tracing::info!(
                        source = %self.source, window = %window, page = page_number,
                        request_id = e.request_id(), credentials = %self.client.credentials(),
                        "Security token expired; fetching new credentials"
                    );
                    self.client.credentials().invalidate();
                    self.send(&request).await
                }
                outcome => outcome,
            }
        };
        let on_retry = |e: &CccError, wait: Duration, attempt: u32| {
            crate::events::api_retry(&self.source, e.code(), e.is_throttling());
            tracing::warn!(
                source = %self.source, window = %window, page = page_number, attempt,
                code = e.code(), request_id = e.request_id(), wait_ms = wait.as_millis() as u64,
                throttled = e.is_throttling(), error = %e,
                "Retrying CCC request"
            );
        };
        match retry::retry(&self.retry, cancel, attempt, on_retry).await {
            Ok(page) => Ok(page),
            Err(GaveUp::Failed { error, attempts }) => Err(FetchError::Request {
                page: page_number,
                attempts,
                source: error,
            }),
            Err(GaveUp::Cancelled) => Err(FetchError::Cancelled),
        }
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
        let cancel = &cancel;
        let mut in_flight = FuturesOrdered::new();
        let mut next_page = 1;
        // Pages the first page's TotalCount announces; until it is known, just the first.
        let mut announced = 1;
        loop {
            let ahead = |page| if page <= announced { PAGES_AHEAD } else { 1 };
            while in_flight.len() < ahead(next_page) && next_page <= MAX_PAGES_PER_WINDOW {
                let number = next_page;
                in_flight
                    .push_back(async move { (number, self.page(window, number, cancel).await) });
                next_page += 1;
            }
            let Some((page_number, page)) = in_flight.next().await else {
                break;
            };
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    let _ = pages.send(Err(e)).await;
                    return;
                }
            };
            if page_number == 1 {
                let size = i64::from(self.page_size);
                let total = page
                    .total_count
                    .unwrap_or(0)
                    .clamp(0, i64::from(MAX_PAGES_PER_WINDOW) * size);
                announced = u32::try_from((total + size - 1) / size).unwrap_or(1).max(1);
            }
            let received = page.len();
            let last = received < self.page_size as usize;
            let mut records = page.records;
            records.retain(|r| seen.insert((r.instance_id.clone(), r.contact_id.clone())));
            let mut invalid = page.invalid;
            records.iter_mut().for_each(|r| self.phone_numbers.apply(r));
            invalid
                .iter_mut()
                .for_each(|i| self.phone_numbers.apply_to_json(&mut i.raw));
            let fetched = FetchedPage {
                page_number,
                request_id: page.request_id,
                duplicates: received - records.len() - invalid.len(),
                records,
                invalid,
                received,
            };
            if pages.send(Ok(fetched)).await.is_err() || last {
                return;
            }
        }
        let _ = pages.send(Err(FetchError::TooManyPages)).await;
    }
}

/// The pace is kept on tokio's clock, so a test with a paused clock paces without waiting.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}
