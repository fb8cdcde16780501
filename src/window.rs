//! Window arithmetic, pure: which time spans a pass fetches, given the watermark and the clock.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// A closed time span `[start, end]` at millisecond precision, as `StartTime`/`StopTime` are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub(crate) fn start_ms(&self) -> i64 {
        self.start.timestamp_millis()
    }

    pub(crate) fn end_ms(&self) -> i64 {
        self.end.timestamp_millis()
    }

    /// How long it is (zero for an empty or reversed window).
    pub(crate) fn span(&self) -> Duration {
        (self.end - self.start).to_std().unwrap_or_default()
    }

    /// Its older and newer halves, sharing the middle millisecond like adjacent [`chunks`].
    pub(crate) fn halves(&self) -> (Window, Window) {
        let middle = to_ms(self.start + (self.end - self.start) / 2);
        (
            Window {
                start: self.start,
                end: middle,
            },
            Window {
                start: middle,
                end: self.end,
            },
        )
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fmt = "%Y-%m-%dT%H:%M:%S%.3fZ";
        write!(f, "{}..{}", self.start.format(fmt), self.end.format(fmt))
    }
}

/// Truncates to whole milliseconds, the API's resolution, so window ends compare exactly after a round trip.
pub fn to_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Splits `[start, end]` into windows of at most `chunk`, oldest first. Adjacent windows share their
/// boundary millisecond, which the idempotent upsert makes harmless. Empty when `start >= end`.
pub fn chunks(start: DateTime<Utc>, end: DateTime<Utc>, chunk: Duration) -> Vec<Window> {
    let (start, end) = (to_ms(start), to_ms(end));
    let step = delta(chunk).max(TimeDelta::milliseconds(1));
    let mut windows = Vec::new();
    let mut from = start;
    while from < end {
        let to = from.checked_add_signed(step).map_or(end, |t| t.min(end));
        windows.push(Window {
            start: from,
            end: to,
        });
        from = to;
    }
    windows
}

/// The span of a regular pass: from `lookback` before the watermark to now. A watermark in the future
/// (a clock moved back) is treated as now, so the pass still looks back instead of fetching nothing.
pub(crate) fn pass_span(
    watermark: DateTime<Utc>,
    lookback: Duration,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let from = watermark.min(now);
    let start = from
        .checked_sub_signed(delta(lookback))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    (start, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").to_utc()
    }

    const H: Duration = Duration::from_secs(3600);

    #[test]
    fn a_long_span_is_split_oldest_first_with_a_short_last_chunk() {
        let w = chunks(t("2026-11-01T00:00:00Z"), t("2026-11-01T14:30:00Z"), 6 * H);
        let ends: Vec<String> = w.iter().map(ToString::to_string).collect();
        assert_eq!(
            ends,
            [
                "2026-11-01T00:00:00.000Z..2026-11-01T06:00:00.000Z",
                "2026-11-01T06:00:00.000Z..2026-11-01T12:00:00.000Z",
                "2026-11-01T12:00:00.000Z..2026-11-01T14:30:00.000Z",
            ]
        );
    }

    #[test]
    fn a_span_shorter_than_a_chunk_is_one_window_and_an_empty_span_none() {
        let now = t("2026-11-24T10:00:00Z");
        assert_eq!(chunks(now - TimeDelta::hours(2), now, 6 * H).len(), 1);
        assert!(chunks(now, now, 6 * H).is_empty());
        assert!(chunks(now, now - TimeDelta::hours(1), 6 * H).is_empty());
    }

    #[test]
    fn chunk_boundaries_are_whole_milliseconds() {
        let start = t("2026-11-24T10:00:00.123456789Z");
        let w = chunks(
            start,
            start + TimeDelta::seconds(90),
            Duration::from_secs(60),
        );
        assert_eq!(w[0].start_ms() % 1000, 123);
        assert_eq!(w[0].start.timestamp_subsec_nanos(), 123_000_000);
        assert_eq!(w[1].start, w[0].end);
    }

    #[test]
    fn a_pass_looks_back_from_the_watermark_and_ends_now() {
        let now = t("2026-11-24T10:00:00Z");
        let (start, end) = pass_span(t("2026-11-24T09:59:00Z"), 2 * H, now);
        assert_eq!((start, end), (t("2026-11-24T07:59:00Z"), now));
    }

    #[test]
    fn a_watermark_in_the_future_is_clamped_to_now() {
        let now = t("2026-11-24T10:00:00Z");
        let (start, end) = pass_span(t("2026-11-25T00:00:00Z"), 2 * H, now);
        assert_eq!((start, end), (t("2026-11-24T08:00:00Z"), now));
    }
}
