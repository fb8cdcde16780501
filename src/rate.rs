//! The pace of one source's requests: a token bucket whose fill rate adapts to the account, the idea of the
//! AWS SDKs' "adaptive" retry mode.
//!
//! CCC publishes no request rate; an account over its quota is answered `Throttling.*`. So the rate starts at
//! [`START_RATE`], rises while requests succeed and drops to [`BETA`] of what was being sent at each
//! throttling answer, never above the ceiling (`max_requests_per_second`) nor below [`MIN_RATE`]:
//! - until the first throttling answer, every success raises the rate by [`SLOW_START_GROWTH`] (slow start:
//!   a fast account is at the ceiling within a few dozen requests);
//! - after one, the rate follows CUBIC's curve `w_max + C·(t − K)³`: back to the rate that was throttled
//!   (`w_max`) after `K` seconds, flat near it, then probing above it ever faster. `K` is the AWS SDKs'
//!   (`∛(w_max·(1 − β)/C)`), but at least [`PROBE_REQUESTS`] requests long, so that a slow account is not
//!   probed more often, counted in requests, than a fast one;
//! - once throttled, it never runs ahead of twice the rate measured on the wire (the starting rate is always
//!   allowed), so a source that idles or is held back by its writer does not bank a rate it never tried.
//!   Before that, as in the AWS SDKs, only the ceiling bounds it: fetching comes in bursts between commits,
//!   and their average is not what the account can take.
//!
//! Pure: the clock is an argument. How long to wait after a failed request stays [`crate::retry`]'s call;
//! this module only spaces the requests. The bucket is written here because `governor`'s quotas are fixed
//! when the limiter is built, and a rate that changes with every answer is the point.

use std::time::{Duration, Instant};

/// The rate of a source's first requests (requests per second), or the ceiling if that is lower: twice the
/// former fixed default.
pub(crate) const START_RATE: f64 = 10.0;
/// The lowest rate throttling can push a source to, or the ceiling if that is lower.
pub(crate) const MIN_RATE: f64 = 0.5;
/// What is left of the rate after a throttling answer: the multiplicative decrease.
pub(crate) const BETA: f64 = 0.7;
/// How much each success raises the rate until the first throttling answer.
pub(crate) const SLOW_START_GROWTH: f64 = 1.2;
/// CUBIC's scale constant `C`, in requests per second per second³ (the AWS SDKs' value).
const SCALE: f64 = 0.4;
/// The fewest requests between a throttling answer and the rate being back where it was throttled. More
/// would throttle a slow account less often, but would let random throttling (another client sharing the
/// quota) ratchet the rate down further.
pub(crate) const PROBE_REQUESTS: f64 = 10.0;
/// Turns that may be banked: one, so requests are spaced, never sent in a burst. A new source starts with a
/// second's worth at the starting rate (as the former fixed-rate limiter did), so a short pass is not held.
const BURST: f64 = 1.0;
/// The measured rate is refreshed over intervals at least this long...
const MEASURE_OVER: Duration = Duration::from_millis(500);
/// ...and smoothed: the weight of the newest interval.
const SMOOTHING: f64 = 0.8;

/// How a request was answered, as far as the pace is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Success,
    /// `Throttling.*`: the account is over its quota.
    Throttled,
    /// Any other failure: says nothing about the rate, neither raises nor lowers it.
    Failed,
}

/// A throttling answer lowered the rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Lowered {
    pub from: f64,
    pub to: f64,
}

/// The curve after the last throttling answer: when it happened, CUBIC's `w_max`, `K` and `C`.
#[derive(Debug, Clone, Copy)]
struct Throttle {
    at: Instant,
    rate: f64,
    k: f64,
    scale: f64,
}

impl Throttle {
    fn new(at: Instant, rate: f64) -> Self {
        let k = (rate * (1.0 - BETA) / SCALE)
            .cbrt()
            .max(PROBE_REQUESTS / rate);
        Throttle {
            at,
            rate,
            k,
            // The curve still starts at β·w_max when K is stretched.
            scale: rate * (1.0 - BETA) / k.powi(3),
        }
    }

    fn rate_at(&self, now: Instant) -> f64 {
        let since = now.saturating_duration_since(self.at).as_secs_f64();
        self.rate + self.scale * (since - self.k).powi(3)
    }
}

/// The adaptive request rate of one source.
#[derive(Debug, Clone)]
pub(crate) struct AdaptiveRate {
    ceiling: f64,
    floor: f64,
    start: f64,
    rate: f64,
    /// Turns available; negative when turns are promised ahead (the callers are waiting for them).
    tokens: f64,
    refilled_at: Instant,
    throttle: Option<Throttle>,
    /// Answers per second, smoothed; `None` until the first interval is over.
    measured: Option<f64>,
    /// From the first request on: the time a source spends starting up is not a rate it chose.
    interval_start: Option<Instant>,
    interval_answers: u32,
    times_lowered: u64,
}

impl AdaptiveRate {
    /// A rate at [`START_RATE`] that never exceeds `ceiling` requests per second (a positive number).
    pub(crate) fn new(ceiling: f64, now: Instant) -> Self {
        let start = START_RATE.min(ceiling);
        AdaptiveRate {
            ceiling,
            floor: MIN_RATE.min(ceiling),
            start,
            rate: start,
            tokens: start.max(BURST),
            refilled_at: now,
            throttle: None,
            measured: None,
            interval_start: None,
            interval_answers: 0,
            times_lowered: 0,
        }
    }

    /// Requests per second right now.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    pub(crate) fn ceiling(&self) -> f64 {
        self.ceiling
    }

    /// How many throttling answers have lowered the rate so far.
    pub(crate) fn times_lowered(&self) -> u64 {
        self.times_lowered
    }

    /// Takes the next turn to send and returns how long to wait for it. Turns come at [`Self::rate`] per
    /// second; a turn not taken is kept for one request at most.
    pub(crate) fn acquire(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.interval_start.get_or_insert(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// Adapts the rate to an answer received at `now`; says so when a throttling answer lowered it.
    pub(crate) fn record(&mut self, answer: Answer, now: Instant) -> Option<Lowered> {
        self.refill(now);
        self.measure(now);
        match answer {
            Answer::Success => {
                let grown = self.grown(now);
                self.set(grown);
                None
            }
            Answer::Throttled => {
                let from = self.rate;
                let sent = self.measured.map_or(self.rate, |m| m.min(self.rate));
                self.throttle = Some(Throttle::new(now, sent));
                self.set(sent * BETA);
                self.times_lowered += 1;
                Some(Lowered {
                    from,
                    to: self.rate,
                })
            }
            Answer::Failed => None,
        }
    }

    /// The rate after one more success: slow start, or CUBIC's curve within twice the measured rate.
    fn grown(&self, now: Instant) -> f64 {
        let Some(throttle) = self.throttle else {
            return self.rate * SLOW_START_GROWTH;
        };
        let tried = self
            .measured
            .map_or(f64::INFINITY, |m| (2.0 * m).max(self.start));
        throttle.rate_at(now).min(tried)
    }

    fn set(&mut self, rate: f64) {
        self.rate = rate.clamp(self.floor, self.ceiling);
    }

    /// Turns accrue at the rate in force since the last refill, up to [`BURST`] (the first second's turns
    /// are spent, not cut).
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        let accrued = self.tokens + elapsed.as_secs_f64() * self.rate;
        self.tokens = accrued.min(self.tokens.max(BURST));
        self.refilled_at = self.refilled_at.max(now);
    }

    fn measure(&mut self, now: Instant) {
        self.interval_answers += 1;
        let elapsed = now.saturating_duration_since(*self.interval_start.get_or_insert(now));
        if elapsed >= MEASURE_OVER {
            let latest = f64::from(self.interval_answers) / elapsed.as_secs_f64();
            self.measured = Some(
                self.measured
                    .map_or(latest, |m| SMOOTHING * latest + (1.0 - SMOOTHING) * m),
            );
            self.interval_answers = 0;
            self.interval_start = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// Sends one request every `every` for `count` requests, all answered `answer`; returns the clock.
    fn answer_steadily(
        r: &mut AdaptiveRate,
        mut now: Instant,
        every: Duration,
        count: u32,
        answer: Answer,
    ) -> Instant {
        for _ in 0..count {
            now += every;
            r.record(answer, now);
        }
        now
    }

    #[test]
    fn a_first_second_of_turns_is_free_then_requests_are_spaced_and_never_in_a_burst() {
        let t0 = Instant::now();
        let mut r = AdaptiveRate::new(200.0, t0);

        let waits: Vec<Duration> = (0..14).map(|_| r.acquire(t0)).collect();

        assert_eq!(r.rate(), START_RATE);
        let banked = START_RATE as usize;
        assert!(
            waits[..banked].iter().all(|w| w.is_zero()),
            "a second's worth at the starting rate is free: {waits:?}"
        );
        for (i, wait) in waits.iter().enumerate().skip(banked) {
            let expected = (i + 1 - banked) as f64 / START_RATE;
            assert!(
                (wait.as_secs_f64() - expected).abs() < 1e-9,
                "turn {i}: {wait:?}"
            );
        }
        // A long pause banks one turn, not a burst.
        let later = t0 + secs(60.0);
        assert_eq!(r.acquire(later), Duration::ZERO);
        assert!(r.acquire(later) > Duration::ZERO);
    }

    #[test]
    fn successes_raise_the_rate_up_to_the_ceiling_and_never_above() {
        let t0 = Instant::now();
        let mut r = AdaptiveRate::new(50.0, t0);

        let mut rates = Vec::new();
        let mut now = t0;
        for _ in 0..200 {
            now += r.acquire(now).max(secs(0.001));
            r.record(Answer::Success, now);
            rates.push(r.rate());
        }

        assert!(rates.windows(2).all(|w| w[1] >= w[0]), "{rates:?}");
        assert!(rates.iter().all(|rate| *rate <= 50.0), "{rates:?}");
        assert_eq!(r.rate(), 50.0, "a fast account reaches the ceiling");
    }

    #[test]
    fn a_ceiling_below_the_starting_rate_is_where_it_starts() {
        let t0 = Instant::now();
        let mut r = AdaptiveRate::new(0.5, t0);
        assert_eq!(r.rate(), 0.5);
        assert_eq!(r.acquire(t0), Duration::ZERO);
        assert_eq!(r.acquire(t0), secs(2.0), "one request every 2 s");

        let mut r = AdaptiveRate::new(5.0, t0);
        assert_eq!(r.rate(), 5.0);
        for _ in 0..5 {
            assert_eq!(r.acquire(t0), Duration::ZERO);
        }
        assert_eq!(r.acquire(t0), secs(0.2), "one request every 200 ms");
    }

    #[test]
    fn the_time_before_the_first_request_is_not_measured_as_a_slow_rate() {
        let t0 = Instant::now();
        let mut r = AdaptiveRate::new(1_000.0, t0);
        // Start-up (migrations, credentials) takes a while before the first request.
        let mut now = t0 + secs(5.0);

        for _ in 0..12 {
            now += r.acquire(now);
            now += secs(0.01);
            r.record(Answer::Success, now);
        }

        assert!(r.rate() > 2.0 * START_RATE, "{}", r.rate());
    }

    #[test]
    fn a_throttling_answer_cuts_the_rate_to_beta_of_what_was_sent() {
        let t0 = Instant::now();
        let mut r = AdaptiveRate::new(200.0, t0);
        // 20 answers a second for 5 s: the measured rate is 20, the rate has grown to the ceiling.
        let now = answer_steadily(&mut r, t0, secs(0.05), 100, Answer::Success);
        assert_eq!(r.rate(), 200.0);

        let lowered = r
            .record(Answer::Throttled, now + secs(0.05))
            .expect("lowered");

        assert_eq!(lowered.from, 200.0);
        assert!((lowered.to - 20.0 * BETA).abs() < 0.5, "{lowered:?}");
        assert_eq!(r.rate(), lowered.to);
        assert_eq!(r.times_lowered(), 1);
    }

    #[test]
    fn after_a_throttle_the_rate_follows_cubic_back_to_where_it_was_and_then_above() {
        let t0 = Instant::now();
        let mut r = AdaptiveRate::new(1_000.0, t0);
        let now = answer_steadily(&mut r, t0, secs(0.01), 300, Answer::Success);
        let throttled_at = now + secs(0.01);
        let w_max = r
            .record(Answer::Throttled, throttled_at)
            .expect("lowered")
            .to
            / BETA;
        let k = (w_max * (1.0 - BETA) / SCALE).cbrt();
        assert!(
            k > PROBE_REQUESTS / w_max,
            "a fast account: the AWS SDKs' K"
        );

        // Successes keep coming at 100/s, so the measured rate never caps the curve here.
        let rate_at = |r: &mut AdaptiveRate, s: f64| {
            let at = throttled_at + secs(s);
            r.record(Answer::Success, at);
            r.rate()
        };
        let mut seen = Vec::new();
        let mut since = 0.0;
        while since < k + 2.0 {
            since += 0.01;
            seen.push((since, rate_at(&mut r, since)));
        }
        let at = |s: f64| {
            seen.iter()
                .find(|(t, _)| *t >= s)
                .map(|(_, rate)| *rate)
                .expect("sampled")
        };

        assert!(at(0.01) < w_max * 0.75, "starts low: {}", at(0.01));
        assert!(
            at(k / 2.0) > at(0.01) && at(k / 2.0) < w_max,
            "concave climb"
        );
        assert!(
            (at(k) - w_max).abs() < 0.05 * w_max,
            "back at w_max after K"
        );
        assert!(
            at(k + 2.0) > w_max + 0.9 * SCALE * 8.0,
            "then probing above it: {} vs {w_max}",
            at(k + 2.0)
        );
    }

    #[test]
    fn throttling_again_and_again_stops_at_the_minimum_rate() {
        let t0 = Instant::now();
        let mut r = AdaptiveRate::new(100.0, t0);
        answer_steadily(&mut r, t0, secs(1.0), 30, Answer::Throttled);
        assert_eq!(r.rate(), MIN_RATE);
        assert_eq!(r.times_lowered(), 30);
    }

    #[test]
    fn other_failures_neither_raise_nor_lower_the_rate() {
        let t0 = Instant::now();
        let mut r = AdaptiveRate::new(100.0, t0);
        answer_steadily(&mut r, t0, secs(0.1), 50, Answer::Failed);
        assert_eq!(r.rate(), START_RATE);
        assert_eq!(r.times_lowered(), 0);
    }

    #[test]
    fn once_throttled_the_rate_never_runs_ahead_of_twice_what_is_sent() {
        let t0 = Instant::now();
        let mut r = AdaptiveRate::new(1_000.0, t0);
        r.record(Answer::Throttled, t0);
        // A source held back elsewhere: 15 answers a second, for a minute.
        answer_steadily(&mut r, t0, secs(1.0 / 15.0), 900, Answer::Success);
        assert!((r.rate() - 30.0).abs() < 0.5, "{}", r.rate());

        // After an hour of idling, a burst of work starts again from the starting rate.
        r.record(Answer::Success, t0 + secs(3_600.0));
        assert_eq!(r.rate(), START_RATE);
    }

    /// A server admitting `limit` requests in any trailing second, the rest throttled; a client sending
    /// one request at a time, each answered after `latency`. Returns (answers, throttled) over the last
    /// `measured_for` seconds of `seconds`.
    fn converse(limit: usize, ceiling: f64, seconds: f64, measured_for: f64) -> (u32, u32) {
        let t0 = Instant::now();
        let latency = secs(0.004);
        let mut r = AdaptiveRate::new(ceiling, t0);
        let mut admitted: VecDeque<Instant> = VecDeque::new();
        let (mut answers, mut throttled) = (0, 0);
        let mut now = t0;
        while now < t0 + secs(seconds) {
            now += r.acquire(now);
            while admitted.front().is_some_and(|t| now - *t >= secs(1.0)) {
                admitted.pop_front();
            }
            let answer = if admitted.len() < limit {
                admitted.push_back(now);
                Answer::Success
            } else {
                Answer::Throttled
            };
            now += latency;
            r.record(answer, now);
            if now >= t0 + secs(seconds - measured_for) {
                answers += 1;
                throttled += u32::from(answer == Answer::Throttled);
            }
            if answer == Answer::Throttled {
                // What the retry policy would wait before trying again.
                now += secs(0.5);
            }
        }
        (answers, throttled)
    }

    #[test]
    fn against_a_server_limited_to_n_per_second_the_rate_settles_near_n() {
        for limit in [2, 5, 10, 20, 80] {
            let (answers, throttled) = converse(limit, 200.0, 90.0, 60.0);
            let achieved = f64::from(answers - throttled) / 60.0;
            let share = f64::from(throttled) / f64::from(answers);
            eprintln!(
                "limit {limit}: {achieved:.2}/s, {:.1}% throttled",
                share * 100.0
            );
            assert!(
                achieved > 0.75 * limit as f64 && achieved <= limit as f64,
                "limit {limit}: {achieved:.1}/s"
            );
            // A probe above the limit costs one throttled request; a slow account is probed every dozen.
            let most = if limit < 10 { 0.10 } else { 0.05 };
            assert!(
                share < most,
                "limit {limit}: {:.1}% throttled",
                share * 100.0
            );
        }
    }

    #[test]
    fn against_a_fast_server_the_ceiling_is_the_rate() {
        let (answers, throttled) = converse(1_000, 50.0, 30.0, 20.0);
        assert_eq!(throttled, 0);
        let achieved = f64::from(answers) / 20.0;
        assert!(achieved > 49.0 && achieved <= 50.05, "{achieved:.2}/s");
    }
}
