//! The sync loop: a pass per source every `interval`, built from steps tests can drive one at a time.
//!
//! Top-down, one job per file:
//! - `daemon.rs`: [`run`] keeps a [`SourceLoop`] per source; each step holds the source's replica lock, runs a
//!   pass, reports health, backs off after a failure and prunes the journal hourly.
//! - `pass.rs`: which windows a pass covers ([`sync_source`]: from `watermark − lookback` to now, plus a
//!   reconciliation span when due; [`backfill`]: an explicit span), synced one at a time.
//! - `stream.rs`: [`sync_window`] fetches one window and writes it in one transaction whose last statement
//!   moves the watermark, so a crash at any moment leaves either the whole window or none of it.
//! - `details.rs`: a `ccc2` source's call details (agent events, recording files), fetched after the windows
//!   for the calls they wrote new or changed, a committed batch at a time.
//! - `journal.rs`: what a window leaves besides its data (log line, metric, `ccc.sync_runs` row for a
//!   failure), and the pruning of `ccc.sync_runs` to its retention.
//! - `progress.rs`: [`Progress`] of a long pass: a bar on a terminal, a log line otherwise.
//! - `source.rs`: a configured [`Source`] wired to its client and fetcher.
//! - `error.rs`: [`SyncError`], why a window or pass did not complete.
//!
//! Shutdown is honoured only between pages and windows (an interrupted window rolls back).

mod daemon;
mod details;
mod error;
mod journal;
mod pass;
mod progress;
mod source;
mod stream;

pub use daemon::{SourceLoop, run};
pub use error::SyncError;
pub use pass::{PassOutcome, backfill, sync_once, sync_source};
pub use progress::{Progress, Unit};
pub use source::Source;
