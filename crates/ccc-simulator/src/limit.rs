//! A true request rate limit (`--max-rps N`): per AccessKey (an account's quota), at most N admitted requests
//! in any trailing second; the others are answered `Throttling.User`, as the service does over a quota.
//! Throttled requests do not count against the quota.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SECOND: Duration = Duration::from_secs(1);

/// The admitted requests of the last second, per AccessKey id.
#[derive(Debug)]
pub struct RateLimit {
    per_second: usize,
    admitted: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimit {
    pub fn new(per_second: u32) -> Self {
        RateLimit {
            per_second: per_second as usize,
            admitted: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` may send a request at `now`; if so, it is counted.
    pub fn admit(&self, key: &str, now: Instant) -> bool {
        let mut admitted = self.admitted.lock().unwrap_or_else(|e| e.into_inner());
        let recent = admitted.entry(key.to_owned()).or_default();
        while recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= SECOND)
        {
            recent.pop_front();
        }
        if recent.len() < self.per_second {
            recent.push_back(now);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_n_requests_are_admitted_in_any_second_per_key() {
        let limit = RateLimit::new(3);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);

        let first: Vec<bool> = [0, 100, 200, 300, 999]
            .iter()
            .map(|ms| limit.admit("A", at(*ms)))
            .collect();

        assert_eq!(first, [true, true, true, false, false]);
        assert!(
            limit.admit("B", at(300)),
            "another account has its own quota"
        );
        assert!(
            limit.admit("A", at(1_000)),
            "the first request left the window"
        );
        assert!(!limit.admit("A", at(1_050)));
        assert!(limit.admit("A", at(1_100)));
    }
}
