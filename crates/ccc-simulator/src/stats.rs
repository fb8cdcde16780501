//! Counts of what the simulator answered, for tests and benchmarks to assert on.

use std::collections::BTreeMap;

/// Requests to `/` by outcome, since start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Every request to the API path.
    pub total: u64,
    /// Requests by their `Action` parameter, whatever became of them (absent: `""`), so a test can count
    /// the per-call enrichment requests a client sends.
    pub by_action: BTreeMap<String, u64>,
    /// Complete answers served (pages, details and recording lists).
    pub ok: u64,
    /// Call records in those answers: list items, and one per `GetCallDetailRecord`.
    pub records: u64,
    /// Error answers by `Code`, injected ones included (e.g. `Throttling.User`).
    pub errors: BTreeMap<String, u64>,
    /// Failures injected on purpose.
    pub faults: FaultCounts,
    /// Requests over `max_rps`, answered `Throttling.User` (also counted in `errors`).
    pub rate_limited: u64,
    /// Requests being answered right now...
    pub in_flight: u64,
    /// ...and the most there were at once.
    pub max_in_flight: u64,
    /// Requests to the recording links (`/_oss/`), counted apart from the API's.
    pub downloads: DownloadStats,
}

/// What the recording links (`/_oss/...`) answered, since start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadStats {
    /// Every request to a link.
    pub total: u64,
    /// Bodies handed to the connection in full.
    pub served: u64,
    /// Body bytes handed to the connection, partial bodies included.
    pub bytes: u64,
    /// 403 `AccessDenied` "Request has expired.".
    pub expired: u64,
    /// Links handed out already expired ([`crate::DownloadFaults::expired_first`]).
    pub expired_links_issued: u64,
    /// 403 for a link that is not the one the service signed: `SignatureDoesNotMatch`,
    /// `InvalidAccessKeyId`, or `AccessDenied` for a link without `Expires` or `Signature`.
    pub tampered: u64,
    /// 404 `NoSuchKey`: deleted, unknown or not yet visible files.
    pub not_found: u64,
    /// Injected: the connection dropped after half the body.
    pub resets: u64,
    /// Injected: the body held back.
    pub slow: u64,
}

/// How often each failure was injected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub throttle: u64,
    pub unavailable: u64,
    pub internal_error: u64,
    pub slow: u64,
    pub reset: u64,
    pub truncate: u64,
}

impl RequestStats {
    /// How many answers carried `code`.
    pub fn errors_with(&self, code: &str) -> u64 {
        self.errors.get(code).copied().unwrap_or(0)
    }

    /// How many requests named `action`.
    pub fn requests_for(&self, action: &str) -> u64 {
        self.by_action.get(action).copied().unwrap_or(0)
    }
}
