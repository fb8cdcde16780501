//! Operational metrics, one function per event, all prefixed `ccc_sync_`; rendered by the health server.
//!
//! The log line of each event is written where it happens (fields first); the metric is bumped here, so the
//! names and labels live in one file and match `docs/operations.md`.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::writer::{RunKind, RunReport};

/// Installs the Prometheus recorder once per process and returns the handle that renders it.
pub(crate) fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("ccc_sync_api_request_duration_seconds".into()),
                &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
            )
            .expect("bucket list is not empty")
            .set_buckets_for_metric(
                Matcher::Full("ccc_sync_window_duration_seconds".into()),
                &[
                    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
                ],
            )
            .expect("bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (tests); ours still renders what it records then.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        gauge!("ccc_sync_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

/// Gives every family its `# HELP` line (the text of the table in `docs/operations.md`).
fn describe() {
    describe_gauge!(
        "ccc_sync_build_info",
        "Always 1; the version label is the running version"
    );
    describe_counter!(
        "ccc_sync_api_requests_total",
        "CCC requests (every attempt), by outcome: OK or the error code"
    );
    describe_histogram!(
        "ccc_sync_api_request_duration_seconds",
        Unit::Seconds,
        "Latency of CCC requests"
    );
    describe_gauge!(
        "ccc_sync_api_requests_per_second",
        "The source's adaptive request rate now, at most max_requests_per_second"
    );
    describe_counter!(
        "ccc_sync_api_retries_total",
        "Failed CCC requests that were retried, by error code"
    );
    describe_counter!(
        "ccc_sync_api_throttled_total",
        "Retried CCC requests the service throttled"
    );
    describe_counter!(
        "ccc_sync_window_splits_total",
        "Times a window was fetched as two halves to fit the service's per-query limits"
    );
    describe_counter!(
        "ccc_sync_call_details_total",
        "Calls whose agent events and recordings were fetched (api ccc2, call_details on)"
    );
    describe_counter!(
        "ccc_sync_recordings_archived_total",
        "Recording files copied into the archive target"
    );
    describe_counter!(
        "ccc_sync_recording_bytes_archived_total",
        Unit::Bytes,
        "Bytes of recording files copied into the archive target"
    );
    describe_counter!(
        "ccc_sync_recording_failures_total",
        "Recording files not archived, by reason: gone (the service no longer has it), download, upload, api"
    );
    describe_counter!(
        "ccc_sync_recording_links_refreshed_total",
        "Download links that had expired (or were refused) and were asked for again"
    );
    describe_gauge!(
        "ccc_sync_recording_backlog",
        "Recording files of the source's instance not archived yet (failing ones included, gone ones not)"
    );
    describe_gauge!(
        "ccc_sync_recording_backlog_oldest_seconds",
        Unit::Seconds,
        "Age of the call of the oldest recording not archived yet; 0 when none waits"
    );
    describe_counter!(
        "ccc_sync_records_fetched_total",
        "Records received in committed windows"
    );
    describe_counter!(
        "ccc_sync_rows_written_total",
        "Rows inserted or changed, by table"
    );
    describe_counter!(
        "ccc_sync_runs_total",
        "Windows synced, by kind (incremental, reconcile, backfill) and status (succeeded, failed)"
    );
    describe_histogram!(
        "ccc_sync_window_duration_seconds",
        Unit::Seconds,
        "Time from a window's start to its commit, by kind"
    );
    describe_gauge!(
        "ccc_sync_watermark_timestamp_seconds",
        Unit::Seconds,
        "The source's watermark (Unix time): stored state until this replica's first successful pass"
    );
    describe_gauge!(
        "ccc_sync_last_success_timestamp_seconds",
        Unit::Seconds,
        "When the source last completed a pass (Unix time), as stored or seen by this replica"
    );
    describe_gauge!(
        "ccc_sync_lag_seconds",
        Unit::Seconds,
        "Now minus the watermark, refreshed at each scrape; read it from the replica that holds the source"
    );
    describe_gauge!(
        "ccc_sync_source_owned",
        "1 while this replica holds the source's lock and syncs it, 0 while standing by"
    );
    describe_gauge!(
        "ccc_sync_database_up",
        "1 when this replica's last database check succeeded"
    );
}

/// One CCC request finished (success or failure).
pub(crate) fn api_request(source: &str, code: &str, elapsed: Duration) {
    counter!("ccc_sync_api_requests_total", "source" => source.to_owned(), "code" => code.to_owned()).increment(1);
    histogram!("ccc_sync_api_request_duration_seconds", "source" => source.to_owned())
        .record(elapsed.as_secs_f64());
}

/// A failed request will be tried again.
pub(crate) fn api_retry(source: &str, code: &str, throttled: bool) {
    counter!("ccc_sync_api_retries_total", "source" => source.to_owned(), "code" => code.to_owned()).increment(1);
    if throttled {
        counter!("ccc_sync_api_throttled_total", "source" => source.to_owned()).increment(1);
    }
}

/// The adaptive request rate of a source changed (requests per second, at most `max_requests_per_second`).
pub(crate) fn api_request_rate(source: &str, requests_per_second: f64) {
    gauge!("ccc_sync_api_requests_per_second", "source" => source.to_owned())
        .set(requests_per_second);
}

/// A window was fetched in parts: `splits` halvings.
pub(crate) fn window_splits(source: &str, splits: u32) {
    counter!("ccc_sync_window_splits_total", "source" => source.to_owned())
        .increment(u64::from(splits));
}

/// The details of `calls` calls were fetched and committed.
pub(crate) fn call_details(source: &str, calls: u64) {
    counter!("ccc_sync_call_details_total", "source" => source.to_owned()).increment(calls);
}

/// A recording file of `bytes` bytes was archived.
pub(crate) fn recording_archived(source: &str, bytes: u64) {
    counter!("ccc_sync_recordings_archived_total", "source" => source.to_owned()).increment(1);
    counter!("ccc_sync_recording_bytes_archived_total", "source" => source.to_owned())
        .increment(bytes);
}

/// A recording file was not archived (`gone`, `download`, `upload`, `api`).
pub(crate) fn recording_failed(source: &str, reason: &'static str) {
    counter!("ccc_sync_recording_failures_total", "source" => source.to_owned(), "reason" => reason)
        .increment(1);
}

/// A download link was asked for again.
pub(crate) fn recording_link_refreshed(source: &str) {
    counter!("ccc_sync_recording_links_refreshed_total", "source" => source.to_owned())
        .increment(1);
}

/// The source's recording backlog as just counted.
pub(crate) fn recording_backlog(source: &str, files: u64, oldest: Option<Duration>) {
    gauge!("ccc_sync_recording_backlog", "source" => source.to_owned()).set(files as f64);
    gauge!("ccc_sync_recording_backlog_oldest_seconds", "source" => source.to_owned())
        .set(oldest.unwrap_or_default().as_secs_f64());
}

/// A window was committed.
pub(crate) fn window_committed(report: &RunReport) {
    let source = report.source.clone();
    counter!("ccc_sync_records_fetched_total", "source" => source.clone())
        .increment(report.records);
    for (table, rows) in [
        ("calls", report.written.calls),
        ("agent_legs", report.written.legs),
        ("recordings", report.written.recordings),
        ("quarantined_records", report.written.quarantined),
    ] {
        counter!("ccc_sync_rows_written_total", "source" => source.clone(), "table" => table)
            .increment(rows);
    }
    let elapsed = (Utc::now() - report.started_at).num_milliseconds().max(0) as f64 / 1000.0;
    histogram!("ccc_sync_window_duration_seconds", "source" => source.clone(), "kind" => report.kind.as_str())
        .record(elapsed);
    run(&source, report.kind, "succeeded");
}

/// A window failed and rolled back.
pub(crate) fn window_failed(source: &str, kind: RunKind) {
    run(source, kind, "failed");
}

fn run(source: &str, kind: RunKind, status: &'static str) {
    counter!("ccc_sync_runs_total", "source" => source.to_owned(), "kind" => kind.as_str(), "status" => status)
        .increment(1);
}

/// A pass ended with the watermark at `watermark`.
pub(crate) fn pass_succeeded(source: &str, watermark: DateTime<Utc>, at: DateTime<Utc>) {
    state_known(source, watermark, Some(at), at);
}

/// The source's watermark and last success as known now: stored in the database at start-up, or set by a pass.
pub(crate) fn state_known(
    source: &str,
    watermark: DateTime<Utc>,
    last_success: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    gauge!("ccc_sync_watermark_timestamp_seconds", "source" => source.to_owned())
        .set(epoch_seconds(watermark));
    if let Some(at) = last_success {
        gauge!("ccc_sync_last_success_timestamp_seconds", "source" => source.to_owned())
            .set(epoch_seconds(at));
    }
    lag(source, watermark, now);
}

/// How far the watermark trails the clock; refreshed at every scrape.
pub(crate) fn lag(source: &str, watermark: DateTime<Utc>, now: DateTime<Utc>) {
    let seconds = (now - watermark).num_milliseconds().max(0) as f64 / 1000.0;
    gauge!("ccc_sync_lag_seconds", "source" => source.to_owned()).set(seconds);
}

/// Whether this replica holds the source's lock and syncs it.
pub(crate) fn source_owned(source: &str, owned: bool) {
    gauge!("ccc_sync_source_owned", "source" => source.to_owned()).set(if owned {
        1.0
    } else {
        0.0
    });
}

/// Whether the last database check succeeded.
pub(crate) fn database_up(up: bool) {
    gauge!("ccc_sync_database_up").set(if up { 1.0 } else { 0.0 });
}

fn epoch_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}
