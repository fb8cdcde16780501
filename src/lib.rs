//! ccc-sync keeps a PostgreSQL warehouse in step with the call records of an Alibaba Cloud Contact Center.
//!
//! # Layout
//!
//! The pipeline, top-down:
//! - [`scheduler`]: a pass per source every interval; plans windows from the watermark ([`window`]), holds
//!   the source's replica lock ([`lock`]), commits each window in one transaction, and prunes the journal
//!   to its retention.
//! - [`fetcher`]: pages one window to its end at an adaptive request rate ([`rate`]), retrying through
//!   [`retry`].
//! - [`ccc`]: the CCC client — signing, the tolerant wire parser, classified errors, credentials.
//! - [`writer`]: all SQL — set-based upserts of a page, the watermark and the `ccc.sync_runs` journal.
//!
//! Around it: [`config`] (typed settings, validated without I/O; its problems are [`problem`]s),
//! [`startup`] (the one step every command shares: credentials found, secret and key files read),
//! [`db`] (pool and migrations), [`pii`] (what is kept
//! of phone numbers), [`telemetry`] (logs), [`events`] (metrics), [`health`] and [`server`] (`/livez`,
//! `/readyz`, `/metrics`), and [`app`] (the commands the binary runs). [`simulator`] is the built-in CCC
//! service for the demo, tests and benchmarks; [`bench`] measures a backfill from it against the
//! database's own bulk-load limit.

pub mod app;
pub mod ccc;
pub mod config;
pub mod db;
mod events;
pub mod fetcher;
pub mod health;
pub mod lock;
pub mod pii;
pub mod problem;
mod rate;
pub mod reads;
mod retry;
pub mod scheduler;
mod server;
pub mod startup;
pub mod telemetry;
pub mod window;
pub mod writer;
