//! Progress of a pass with many windows: a bar on a terminal, a log line every 10 s otherwise.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

/// Progress of a pass with many windows (a backfill, a first pass): calls done, rate and ETA, as a bar on
/// a terminal and a log line every [`Progress::LOG_EVERY`] otherwise.
pub(super) struct Progress<'a> {
    source: &'a str,
    windows: usize,
    done: usize,
    calls: u64,
    started: Instant,
    shown: Instant,
    terminal: bool,
}

impl<'a> Progress<'a> {
    /// Passes with fewer windows finish too soon to need it.
    const MIN_WINDOWS: usize = 8;
    const LOG_EVERY: Duration = Duration::from_secs(10);
    const DRAW_EVERY: Duration = Duration::from_millis(200);

    pub(super) fn new(source: &'a str, windows: usize) -> Self {
        let now = Instant::now();
        Progress {
            source,
            windows,
            done: 0,
            calls: 0,
            started: now,
            shown: now,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    pub(super) fn window_committed(&mut self, records: u64) {
        self.done += 1;
        self.calls += records;
        if self.windows < Self::MIN_WINDOWS {
            return;
        }
        let every = if self.terminal {
            Self::DRAW_EVERY
        } else {
            Self::LOG_EVERY
        };
        if self.shown.elapsed() < every && self.done < self.windows {
            return;
        }
        self.shown = Instant::now();
        let elapsed = self.started.elapsed();
        let rate = self.calls as f64 / elapsed.as_secs_f64().max(0.001);
        let eta = elapsed.mul_f64((self.windows - self.done) as f64 / self.done as f64);
        if self.terminal {
            eprint!(
                "\r{}",
                progress_bar(self.done, self.windows, self.calls, rate, eta)
            );
        } else {
            tracing::info!(
                source = self.source,
                windows_done = self.done,
                windows = self.windows,
                calls = self.calls,
                calls_per_second = rate.round() as u64,
                eta_s = eta.as_secs(),
                "Pass progress"
            );
        }
    }

    pub(super) fn finish(&self) {
        if self.terminal && self.windows >= Self::MIN_WINDOWS {
            eprintln!();
        }
    }
}

/// `[#######                       ] 12/48 windows, 52000 calls, 31000 calls/s, ETA 5s`
fn progress_bar(done: usize, total: usize, calls: u64, rate: f64, eta: Duration) -> String {
    const WIDTH: usize = 30;
    let filled = done.min(total) * WIDTH / total.max(1);
    format!(
        "[{}{}] {done}/{total} windows, {calls} calls, {rate:.0} calls/s, ETA {}s",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
        eta.as_secs()
    )
}
