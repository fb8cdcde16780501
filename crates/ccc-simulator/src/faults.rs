//! Injected failures: which ones a request suffers, drawn per request once it has been admitted and parsed,
//! so a fault never hides a real error.

use std::time::Duration;

use rand::Rng;

/// Probabilities (0..=1) of each failure, drawn independently per request. `Default` injects nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// 400 `Throttling.User`, about half the time with `x-acs-retry-after`.
    pub throttle: f64,
    /// 503 `ServiceUnavailable`.
    pub unavailable: f64,
    /// 500 `InternalError`.
    pub internal_error: f64,
    /// The answer is held back for `slow_for`.
    pub slow: f64,
    /// How long a slow answer takes; longer than the official SDKs' 10 s read timeout by default.
    pub slow_for: Duration,
    /// Headers and part of the body, then the connection is dropped.
    pub reset: f64,
    /// A 200 whose body is cut short (its Content-Length matches what is sent).
    pub truncate: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            throttle: 0.0,
            unavailable: 0.0,
            internal_error: 0.0,
            slow: 0.0,
            slow_for: Duration::from_secs(15),
            reset: 0.0,
            truncate: 0.0,
        }
    }
}

/// What goes wrong with one request's answer, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Normal,
    Throttle { retry_after_ms: Option<u64> },
    Unavailable,
    InternalError,
    Reset,
    Truncate,
}

impl Faults {
    /// Each probability's name and value, for validation and the start-up banner.
    pub fn probabilities(&self) -> [(&'static str, f64); 6] {
        [
            ("throttle", self.throttle),
            ("unavailable", self.unavailable),
            ("internal-error", self.internal_error),
            ("slow", self.slow),
            ("reset", self.reset),
            ("truncate", self.truncate),
        ]
    }

    /// Whether any failure can happen at all.
    pub fn any(&self) -> bool {
        self.probabilities().iter().any(|(_, p)| *p > 0.0)
    }

    /// Draws whether this answer is slow and what becomes of it. Failures are tried in a fixed order;
    /// the first that hits wins.
    pub fn draw(&self, rng: &mut impl Rng) -> (bool, Outcome) {
        let mut hit = |p: f64| p > 0.0 && rng.random::<f64>() < p;
        let slow = hit(self.slow);
        let outcome = if hit(self.throttle) {
            Outcome::Throttle {
                retry_after_ms: rng.random_bool(0.5).then(|| rng.random_range(100..=1_000)),
            }
        } else if hit(self.unavailable) {
            Outcome::Unavailable
        } else if hit(self.internal_error) {
            Outcome::InternalError
        } else if hit(self.reset) {
            Outcome::Reset
        } else if hit(self.truncate) {
            Outcome::Truncate
        } else {
            Outcome::Normal
        };
        (slow, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn no_faults_by_default_and_certain_faults_always() {
        let mut rng = SmallRng::seed_from_u64(1);
        assert!(!Faults::default().any());
        for _ in 0..1000 {
            assert_eq!(Faults::default().draw(&mut rng), (false, Outcome::Normal));
        }
        let always = Faults {
            slow: 1.0,
            internal_error: 1.0,
            ..Faults::default()
        };
        assert_eq!(always.draw(&mut rng), (true, Outcome::InternalError));
    }

    #[test]
    fn throttling_carries_a_retry_after_about_half_the_time() {
        let mut rng = SmallRng::seed_from_u64(2);
        let faults = Faults {
            throttle: 1.0,
            ..Faults::default()
        };
        let with_header = (0..1000)
            .filter(|_| {
                matches!(
                    faults.draw(&mut rng).1,
                    Outcome::Throttle {
                        retry_after_ms: Some(100..=1_000)
                    }
                )
            })
            .count();
        assert!((400..600).contains(&with_header), "{with_header} of 1000");
    }

    #[test]
    fn a_probability_is_roughly_honoured() {
        let mut rng = SmallRng::seed_from_u64(3);
        let faults = Faults {
            unavailable: 0.2,
            ..Faults::default()
        };
        let hits = (0..10_000)
            .filter(|_| faults.draw(&mut rng).1 == Outcome::Unavailable)
            .count();
        assert!((1_700..2_300).contains(&hits), "{hits} of 10000");
    }
}
