//! Progress of a long job toward a known total (a backfill's or a first pass's windows, the demo's calls): a
//! bar on a terminal, drawn by `indicatif`; an INFO log line every 10 s otherwise, since logs keep lines, not
//! redraws.

use std::io::IsTerminal as _;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Every bar of the process, so the concurrent passes of `ccc-sync once` draw on lines of their own.
static BARS: LazyLock<MultiProgress> = LazyLock::new(MultiProgress::new);

/// What a [`Progress`] counts toward its total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// The windows of a pass; the calls they brought are shown beside them.
    Windows,
    /// Calls, when how many to expect is known up front (the demo).
    Calls,
}

/// How far a job is, with the calls done, their rate and the time left.
///
/// `start` it with the total, `update` it as work lands, `finish` it at the end (dropping it does the same).
/// On a terminal it is a bar on stderr:
/// `agent-1912 [#######         ] 12/48 windows, 52000 calls, 31000 calls/s, ETA 5s`;
/// otherwise it logs "Pass progress" (or "Sync progress" for [`Unit::Calls`]) every 10 s and when done.
pub struct Progress {
    source: String,
    unit: Unit,
    total: u64,
    done: u64,
    calls: u64,
    started: Instant,
    shown: Shown,
}

enum Shown {
    Nothing,
    Bar(ProgressBar),
    Log { last: Instant },
}

impl Progress {
    const LOG_EVERY: Duration = Duration::from_secs(10);

    /// Shows the progress of `source` toward `total` `unit`s from now on.
    pub fn start(source: &str, unit: Unit, total: u64) -> Self {
        let started = Instant::now();
        let shown = if std::io::stderr().is_terminal() {
            Shown::Bar(BARS.add(bar(source, unit, total)))
        } else {
            Shown::Log { last: started }
        };
        Progress {
            source: source.to_owned(),
            unit,
            total,
            done: 0,
            calls: 0,
            started,
            shown,
        }
    }

    /// A progress that shows nothing, for jobs too short to need one.
    pub(crate) fn hidden() -> Self {
        Progress {
            source: String::new(),
            unit: Unit::Windows,
            total: 0,
            done: 0,
            calls: 0,
            started: Instant::now(),
            shown: Shown::Nothing,
        }
    }

    /// Records how far the job got, in totals so far: `done` units, having brought `calls` calls. For
    /// [`Unit::Calls`] the two are the same count.
    pub fn update(&mut self, done: u64, calls: u64) {
        self.done = done;
        self.calls = calls;
        let now = Instant::now();
        let elapsed = now.duration_since(self.started);
        match &self.shown {
            Shown::Nothing => {}
            Shown::Bar(bar) => {
                bar.set_message(self.message(elapsed));
                bar.set_position(done);
            }
            Shown::Log { last } => {
                if now.duration_since(*last) < Self::LOG_EVERY && done < self.total {
                    return;
                }
                self.shown = Shown::Log { last: now };
                self.log(elapsed);
            }
        }
    }

    /// Leaves the bar, complete or not, on a line of its own.
    pub fn finish(self) {
        if let Shown::Bar(bar) = &self.shown {
            bar.abandon();
        }
    }

    fn log(&self, elapsed: Duration) {
        let calls_per_second = self.rate(elapsed).round() as u64;
        let eta_s = self.eta(elapsed).map(|eta| eta.as_secs());
        match self.unit {
            Unit::Windows => tracing::info!(
                source = self.source,
                windows_done = self.done,
                windows = self.total,
                calls = self.calls,
                calls_per_second,
                eta_s,
                "Pass progress"
            ),
            Unit::Calls => tracing::info!(
                source = self.source,
                calls = self.calls,
                calls_expected = self.total,
                calls_per_second,
                eta_s,
                "Sync progress"
            ),
        }
    }

    /// What the bar shows after its count: `52000 calls, 31000 calls/s`, or only the rate when counting calls.
    fn message(&self, elapsed: Duration) -> String {
        let rate = self.rate(elapsed);
        match self.unit {
            Unit::Windows => format!("{} calls, {rate:.0} calls/s", self.calls),
            Unit::Calls => format!("{rate:.0} calls/s"),
        }
    }

    fn rate(&self, elapsed: Duration) -> f64 {
        self.calls as f64 / elapsed.as_secs_f64().max(0.001)
    }

    /// The time left at the pace so far; unknown before the first unit is done.
    fn eta(&self, elapsed: Duration) -> Option<Duration> {
        if self.done == 0 {
            return None;
        }
        let left = self.total.saturating_sub(self.done) as f64 / self.done as f64;
        Duration::try_from_secs_f64(elapsed.as_secs_f64() * left).ok()
    }
}

fn bar(source: &str, unit: Unit, total: u64) -> ProgressBar {
    let template = match unit {
        Unit::Windows => "{prefix} [{bar:30}] {pos}/{len} windows, {msg}, ETA {eta}",
        Unit::Calls => "{prefix} [{bar:30}] {pos}/{len} calls, {msg}, ETA {eta}",
    };
    let style = ProgressStyle::with_template(template)
        .expect("a valid literal template")
        .progress_chars("# ");
    ProgressBar::new(total)
        .with_style(style)
        .with_prefix(source.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unit: Unit, total: u64, done: u64, calls: u64) -> Progress {
        Progress {
            source: "agent-1912".to_owned(),
            unit,
            total,
            done,
            calls,
            started: Instant::now(),
            shown: Shown::Nothing,
        }
    }

    #[test]
    fn the_message_shows_calls_and_their_rate_and_the_eta_follows_the_pace_so_far() {
        let windows = at(Unit::Windows, 48, 12, 52_000);
        assert_eq!(
            windows.message(Duration::from_secs(2)),
            "52000 calls, 26000 calls/s"
        );
        assert_eq!(
            windows.eta(Duration::from_secs(2)),
            Some(Duration::from_secs(6))
        );
        let calls = at(Unit::Calls, 20_000, 5_000, 5_000);
        assert_eq!(calls.message(Duration::from_secs(1)), "5000 calls/s");
        assert_eq!(
            calls.eta(Duration::from_secs(1)),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn nothing_done_yet_has_no_eta_rather_than_an_endless_one() {
        assert_eq!(at(Unit::Calls, 10, 0, 0).eta(Duration::from_secs(1)), None);
    }

    #[test]
    fn the_bar_template_is_valid_for_every_unit() {
        for unit in [Unit::Windows, Unit::Calls] {
            let bar = bar("agent-1912", unit, 48);
            assert_eq!(bar.length(), Some(48));
            assert_eq!(bar.prefix(), "agent-1912");
        }
    }
}
