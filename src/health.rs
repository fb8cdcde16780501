//! What `/livez` and `/readyz` answer, kept up to date by the source loops.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// How many intervals an owned source may go without a successful pass, once failing, before the replica
/// reports itself not ready.
pub(crate) const FAILING_INTERVALS: i32 = 3;

#[derive(Debug, Clone)]
struct SourceHealth {
    interval: Duration,
    owned: bool,
    since: DateTime<Utc>,
    last_success: Option<DateTime<Utc>>,
    failing: bool,
    watermark: Option<DateTime<Utc>>,
    /// A request signed with the source's credentials succeeded in this process (a pass or a probe).
    credentials_verified: bool,
}

impl SourceHealth {
    fn new(now: DateTime<Utc>) -> Self {
        SourceHealth {
            interval: Duration::ZERO,
            owned: false,
            since: now,
            last_success: None,
            failing: false,
            watermark: None,
            credentials_verified: false,
        }
    }
}

/// Shared by the source loops (writers) and the health server (reader).
#[derive(Debug, Default)]
pub struct Health {
    sources: Mutex<BTreeMap<String, SourceHealth>>,
    loops_running: AtomicUsize,
    expected_loops: AtomicUsize,
    /// Set once this process has applied (or found applied) every migration it knows; a binary older than
    /// the database never gets there and must not look ready.
    migrated: AtomicBool,
}

/// Held by a running source loop; dropping it (the loop ended or panicked) makes the process not live.
pub(crate) struct LoopGuard<'a>(&'a Health);

impl Drop for LoopGuard<'_> {
    fn drop(&mut self) {
        self.0.loops_running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Health {
    fn update(&self, source: &str, f: impl FnOnce(&mut SourceHealth)) {
        if let Ok(mut sources) = self.sources.lock()
            && let Some(s) = sources.get_mut(source)
        {
            f(s);
        }
    }

    /// Makes a configured source known before its loop starts, so readiness waits for it, with the
    /// watermark and last success stored in the database (or the watermark its first pass will start from):
    /// the lag is exposed from the start, even if no pass ever succeeds.
    pub(crate) fn add_source(
        &self,
        source: &str,
        stored: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
        now: DateTime<Utc>,
    ) {
        if let Ok(mut sources) = self.sources.lock() {
            let s = sources
                .entry(source.to_owned())
                .or_insert_with(|| SourceHealth::new(now));
            if let Some((watermark, _)) = stored {
                s.watermark = Some(watermark);
            }
        }
        if let Some((watermark, last_success)) = stored {
            crate::events::state_known(source, watermark, last_success, now);
        }
    }

    /// Called when a source loop starts; keeps what [`Health::add_source`] knew.
    pub(crate) fn register(
        &self,
        source: &str,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> LoopGuard<'_> {
        if let Ok(mut sources) = self.sources.lock() {
            let s = sources
                .entry(source.to_owned())
                .or_insert_with(|| SourceHealth::new(now));
            s.interval = interval;
            s.owned = false;
            s.since = now;
            s.failing = false;
        }
        self.expected_loops.fetch_add(1, Ordering::SeqCst);
        self.loops_running.fetch_add(1, Ordering::SeqCst);
        LoopGuard(self)
    }

    pub(crate) fn set_owned(&self, source: &str, owned: bool, now: DateTime<Utc>) {
        self.update(source, |s| {
            if s.owned != owned {
                s.since = now;
                s.failing = false;
            }
            s.owned = owned;
        });
        crate::events::source_owned(source, owned);
    }

    pub(crate) fn pass_succeeded(
        &self,
        source: &str,
        watermark: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        self.update(source, |s| {
            s.last_success = Some(now);
            s.failing = false;
            s.watermark = Some(watermark);
            s.credentials_verified = true;
        });
        crate::events::pass_succeeded(source, watermark, now);
    }

    /// A probe signed with the source's credentials succeeded.
    pub(crate) fn credentials_verified(&self, source: &str) {
        self.update(source, |s| s.credentials_verified = true);
    }

    /// Whether a request signed with the source's credentials has succeeded in this process.
    pub(crate) fn has_verified_credentials(&self, source: &str) -> bool {
        self.sources
            .lock()
            .is_ok_and(|sources| sources.get(source).is_some_and(|s| s.credentials_verified))
    }

    pub(crate) fn pass_failed(&self, source: &str) {
        self.update(source, |s| s.failing = true);
    }

    pub(crate) fn set_migrated(&self) {
        self.migrated.store(true, Ordering::SeqCst);
    }

    pub(crate) fn migrated(&self) -> bool {
        self.migrated.load(Ordering::SeqCst)
    }

    /// Every source loop that was started is still running.
    pub(crate) fn live(&self) -> Result<(), String> {
        let (running, expected) = (
            self.loops_running.load(Ordering::SeqCst),
            self.expected_loops.load(Ordering::SeqCst),
        );
        if running == expected {
            Ok(())
        } else {
            Err(format!(
                "{} of {expected} source loops have stopped",
                expected - running
            ))
        }
    }

    /// Every source's credentials have worked once in this process (a standby's too, so a rollout with a
    /// wrong secret stops at its first new replica), and every owned source has synced within a few
    /// intervals, or is still in a pass that has not failed.
    pub(crate) fn sources_ready(&self, now: DateTime<Utc>) -> Result<(), Vec<String>> {
        let sources = self
            .sources
            .lock()
            .map_err(|_| vec!["health state poisoned".to_owned()])?;
        let unverified = sources
            .iter()
            .filter(|(_, s)| !s.credentials_verified)
            .map(|(name, _)| {
                format!(
                    "source {name}: no request signed with its credentials has succeeded yet (see the log, or run `ccc-sync check`)"
                )
            });
        let stale = sources
            .iter()
            .filter(|(_, s)| s.owned && s.failing)
            .filter(|(_, s)| {
                let allowed =
                    TimeDelta::from_std(s.interval).unwrap_or(TimeDelta::MAX) * FAILING_INTERVALS;
                now - s.last_success.unwrap_or(s.since).max(s.since) > allowed
            })
            .map(|(name, _)| {
                format!("source {name} has not synced for over {FAILING_INTERVALS} intervals")
            });
        let problems: Vec<String> = unverified.chain(stale).collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Refreshes the lag gauges to the moment of a scrape.
    pub(crate) fn refresh_lag(&self, now: DateTime<Utc>) {
        if let Ok(sources) = self.sources.lock() {
            for (name, s) in sources.iter() {
                if let Some(w) = s.watermark {
                    crate::events::lag(name, w, now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::minutes(minutes)
    }

    #[test]
    fn an_owned_source_failing_for_three_intervals_is_not_ready_and_a_standby_is() {
        let h = Health::default();
        let _a = h.register("a", Duration::from_secs(60), t(0));
        let _b = h.register("b", Duration::from_secs(60), t(0));
        h.set_owned("a", true, t(0));
        h.credentials_verified("b");
        h.pass_succeeded("a", t(0), t(1));
        h.pass_failed("a");
        h.pass_failed("b");
        assert!(
            h.sources_ready(t(3)).is_ok(),
            "2 minutes of failure are tolerated"
        );
        let err = h.sources_ready(t(5)).expect_err("stale");
        assert_eq!(err.len(), 1, "b is a standby and stays ready: {err:?}");
        h.pass_succeeded("a", t(5), t(5));
        assert!(h.sources_ready(t(5)).is_ok());
    }

    #[test]
    fn a_source_whose_credentials_never_worked_is_not_ready_even_on_a_standby() {
        let h = Health::default();
        h.add_source("a", None, t(0));
        assert!(
            h.sources_ready(t(0)).is_err(),
            "known before its loop starts"
        );
        let _a = h.register("a", Duration::from_secs(60), t(0));
        h.set_owned("a", false, t(0));
        let err = h.sources_ready(t(0)).expect_err("unverified standby");
        assert!(err[0].contains("credentials"), "{err:?}");
        h.credentials_verified("a");
        assert!(h.sources_ready(t(0)).is_ok());
    }

    #[test]
    fn the_stored_watermark_survives_the_loop_registering() {
        let h = Health::default();
        h.add_source("a", Some((t(0), None)), t(0));
        let _a = h.register("a", Duration::from_secs(60), t(1));
        assert_eq!(h.sources.lock().expect("lock")["a"].watermark, Some(t(0)));
    }

    #[test]
    fn a_stopped_loop_makes_the_process_not_live() {
        let h = Health::default();
        let guard = h.register("a", Duration::from_secs(60), t(0));
        assert!(h.live().is_ok());
        drop(guard);
        assert!(h.live().is_err());
    }
}
