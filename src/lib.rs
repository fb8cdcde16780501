//! ccc-sync keeps a PostgreSQL warehouse in step with the call records of an Alibaba Cloud Contact Center.
//!
//! # Layout
//!
//! The pipeline, top-down:
//! - [`scheduler`]: a pass per source every interval, one job per file: the daemon loop with its replica
//!   lock ([`lock`]) and hourly journal pruning, the windows a pass covers ([`window`]), one window staged
//!   and committed in one transaction (the next one staged while it commits), its journal entry, progress,
//!   and the configured [`scheduler::Source`].
//! - [`fetcher`]: pages one window to its end, a few pages at once, at an adaptive request rate (`rate`),
//!   retrying through `retry` (the one place that decides waits, and the only user of the `backoff` crate).
//! - [`ccc`]: the CCC client: the tolerant wire parser, classified errors that keep credentials out of
//!   their text, credentials (static, files, the official default chain) and the signed request. Signature
//!   v1 itself is the `ccc-signature` crate, shared with the simulator.
//! - [`writer`]: every write to the warehouse: a window COPY'd into a stage and upserted set by set, business
//!   days and leg totals, the watermark and the `ccc.sync_runs` journal, in the window's transaction.
//!
//! Around it:
//! - [`config`]: typed settings, validated without I/O (every [`problem`] at once, each naming its key,
//!   value and fix); [`startup`]: the one step every command shares (credentials found, secret and key
//!   files read), so `check` cannot pass what `run` refuses.
//! - [`db`]: the server: pool, migrations, scratch databases; [`reads`]: what the commands show (status,
//!   counts, dashboard samples); [`lock`]: the replica locks. No other module holds SQL.
//! - [`pii`]: what is kept of phone numbers; [`telemetry`]: logs; `events`: metrics; [`health`] and
//!   `server`: `/livez`, `/readyz`, `/metrics`; [`app`]: the commands the binary runs.
//!
//! Items are `pub(crate)` unless the binary or the integration tests use them. The binary's own tools
//! (`src/tools/`: `demo`, `bench`) and the built-in CCC service (the `ccc-simulator` crate) are not part of
//! this library.

pub mod app;
pub mod archive;
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
