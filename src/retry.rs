//! The one place that decides how long to wait before trying again.
//!
//! Intervals come from the `backoff` crate (exponential with jitter and a cap), which the project was
//! asked to use. It is unmaintained (RUSTSEC-2025-0012, recorded in `deny.toml`), so it is confined to this
//! module: replacing it with `backon` touches nothing else. The total budget is measured on tokio's clock,
//! so tests with a paused clock run instantly.

use std::future::Future;
use std::time::Duration;

use backoff::ExponentialBackoffBuilder;
use backoff::backoff::Backoff;
use tokio_util::sync::CancellationToken;

/// How a failed attempt is retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RetryPolicy {
    pub initial: Duration,
    /// The cap on one wait, jitter included; only `x-acs-retry-after` may ask for more.
    pub max_interval: Duration,
    pub multiplier: f64,
    /// Each wait is drawn from `interval × [1 − r, 1 + r]`, so replicas do not retry in step.
    pub jitter: f64,
    /// No new attempt starts once this much time has passed since the first.
    pub max_elapsed: Duration,
}

impl RetryPolicy {
    /// For API requests: 0.5 s doubling to 30 s, for `max_elapsed` in all.
    pub(crate) fn requests(max_elapsed: Duration) -> Self {
        RetryPolicy {
            initial: Duration::from_millis(500),
            max_interval: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.3,
            max_elapsed,
        }
    }

    /// For an outage that must be waited out, never given up on (the database at start-up, a failing
    /// source's passes): 1 s doubling to `cap`, without end.
    pub(crate) fn outage(cap: Duration) -> Self {
        RetryPolicy {
            initial: Duration::from_secs(1),
            max_interval: cap,
            ..RetryPolicy::requests(Duration::MAX)
        }
    }

    /// The intervals of one retry sequence.
    pub(crate) fn intervals(&self) -> Intervals {
        Intervals {
            cap: self.max_interval,
            backoff: ExponentialBackoffBuilder::new()
                .with_initial_interval(self.initial)
                .with_max_interval(self.max_interval)
                .with_multiplier(self.multiplier)
                .with_randomization_factor(self.jitter)
                .with_max_elapsed_time(None)
                .build(),
        }
    }
}

/// An endless sequence of growing, jittered waits, none longer than the cap.
pub(crate) struct Intervals {
    /// `backoff` jitters the interval after capping it, so a draw may exceed the cap by the jitter.
    cap: Duration,
    backoff: backoff::ExponentialBackoff,
}

impl Intervals {
    pub(crate) fn next_wait(&mut self) -> Duration {
        self.backoff
            .next_backoff()
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    pub(crate) fn reset(&mut self) {
        self.backoff.reset();
    }
}

/// What the retry loop needs to know about an error.
pub(crate) trait Retryable {
    fn is_retryable(&self) -> bool;
    /// The least wait the other side asked for.
    fn retry_after(&self) -> Option<Duration>;
}

impl Retryable for crate::ccc::CccError {
    fn is_retryable(&self) -> bool {
        crate::ccc::CccError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        crate::ccc::CccError::retry_after(self)
    }
}

/// Why a retried operation ended without a result.
#[derive(Debug)]
pub(crate) enum GaveUp<E> {
    /// A fatal error, or the last retryable one when the budget ran out.
    Failed { error: E, attempts: u32 },
    /// Shutdown was requested while waiting.
    Cancelled,
}

/// Runs `op` until it succeeds, fails fatally, or the budget is spent; waits at least what the error's
/// `retry_after` asks. Cancellation abandons an attempt in flight or a wait. `on_retry(error, wait, attempt)` is called before each wait, for logs and metrics.
pub(crate) async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    mut op: F,
    mut on_retry: impl FnMut(&E, Duration, u32),
) -> Result<T, GaveUp<E>>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = tokio::time::Instant::now();
    let mut intervals = policy.intervals();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = tokio::select! {
            () = cancel.cancelled() => return Err(GaveUp::Cancelled),
            outcome = op() => outcome,
        };
        let error = match outcome {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let wait = intervals
            .next_wait()
            .max(error.retry_after().unwrap_or_default());
        if !error.is_retryable() || started.elapsed() + wait > policy.max_elapsed {
            return Err(GaveUp::Failed { error, attempts });
        }
        on_retry(&error, wait, attempts);
        tokio::select! {
            () = cancel.cancelled() => return Err(GaveUp::Cancelled),
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Debug, PartialEq)]
    struct E {
        retryable: bool,
        after: Option<Duration>,
    }

    impl Retryable for E {
        fn is_retryable(&self) -> bool {
            self.retryable
        }
        fn retry_after(&self) -> Option<Duration> {
            self.after
        }
    }

    const TRANSIENT: E = E {
        retryable: true,
        after: None,
    };

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let calls = Cell::new(0);
        let result = retry(
            &RetryPolicy::requests(Duration::from_secs(60)),
            &CancellationToken::new(),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { if n < 4 { Err(TRANSIENT) } else { Ok(n) } }
            },
            |_, _, _| {},
        )
        .await;
        assert!(matches!(result, Ok(4)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_error_is_returned_at_once() {
        let result: Result<(), _> = retry(
            &RetryPolicy::requests(Duration::from_secs(60)),
            &CancellationToken::new(),
            || async {
                Err(E {
                    retryable: false,
                    after: None,
                })
            },
            |_, _, _| panic!("no retry of a fatal error"),
        )
        .await;
        assert!(matches!(result, Err(GaveUp::Failed { attempts: 1, .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn waits_honour_retry_after_and_grow_to_the_cap() {
        let mut waits = Vec::new();
        let start = tokio::time::Instant::now();
        let result: Result<(), _> = retry(
            &RetryPolicy::requests(Duration::from_secs(300)),
            &CancellationToken::new(),
            || async {
                Err(E {
                    retryable: true,
                    after: Some(Duration::from_secs(3)),
                })
            },
            |_, wait, _| waits.push(wait),
        )
        .await;
        assert!(
            matches!(result, Err(GaveUp::Failed { .. })),
            "the budget ends it"
        );
        assert!(
            waits.iter().all(|w| *w >= Duration::from_secs(3)),
            "{waits:?}"
        );
        assert!(
            waits.iter().all(|w| *w <= Duration::from_secs(39)),
            "cap 30 s + 30 % jitter: {waits:?}"
        );
        assert!(
            waits.iter().all(|w| *w <= Duration::from_secs(30)),
            "jitter never lifts a wait over the 30 s cap: {waits:?}"
        );
        assert!(
            waits.iter().any(|w| *w > Duration::from_secs(10)),
            "intervals grow: {waits:?}"
        );
        assert!(
            start.elapsed() <= Duration::from_secs(300),
            "the budget bounds the total"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_wait_exceeds_the_cap_over_many_draws() {
        let policy = RetryPolicy::requests(Duration::MAX);
        let mut waits = Vec::new();
        for _ in 0..200 {
            let mut intervals = policy.intervals();
            waits.extend((0..20).map(|_| intervals.next_wait()));
        }
        assert!(
            waits.iter().all(|w| *w <= policy.max_interval),
            "longest wait {:?}",
            waits.iter().max()
        );
        assert!(
            waits.contains(&policy.max_interval),
            "the waits reach the cap"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_longer_retry_after_lifts_a_wait_over_the_cap() {
        let after = Duration::from_secs(45);
        let mut waits = Vec::new();
        let result: Result<(), _> = retry(
            &RetryPolicy::requests(Duration::from_secs(100)),
            &CancellationToken::new(),
            || async {
                Err(E {
                    retryable: true,
                    after: Some(after),
                })
            },
            |_, wait, _| waits.push(wait),
        )
        .await;
        assert!(matches!(result, Err(GaveUp::Failed { .. })));
        assert_eq!(waits, [after, after]);
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_interrupts_a_wait() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let result: Result<(), _> = retry(
            &RetryPolicy::requests(Duration::from_secs(600)),
            &cancel,
            || async { Err(TRANSIENT) },
            move |_, _, _| c.cancel(),
        )
        .await;
        assert!(matches!(result, Err(GaveUp::Cancelled)));
    }
}
