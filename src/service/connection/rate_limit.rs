//! Per-connection rate limiting: a token bucket refilled at the connection's rate, allowing
//! bursts of twice that. The Durable Object keeps one bucket in memory (it is the connection's
//! single writer); time comes in as an argument.

use crate::scim::ScimError;
use crate::service::clock::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    tokens: f64,
    last: Option<Timestamp>,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket::new()
    }
}

impl Bucket {
    /// A bucket that starts full.
    pub fn new() -> Bucket {
        Bucket {
            tokens: f64::INFINITY,
            last: None,
        }
    }

    /// Takes one token for a request at `now`, or answers 429 with `Retry-After`.
    pub fn take(&mut self, now: Timestamp, per_second: u32) -> Result<(), ScimError> {
        let rate = f64::from(per_second.max(1));
        let burst = rate * 2.0;
        let elapsed = self
            .last
            .map_or(0.0, |last| (now.0 - last.0).max(0) as f64 / 1000.0);
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - self.tokens) / rate).ceil().max(1.0) as u64;
        Err(ScimError::too_many_requests(wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_of_twice_the_rate_then_refills() {
        let mut bucket = Bucket::new();
        let t0 = Timestamp(1_000_000);
        for i in 0..50 {
            assert!(bucket.take(t0, 25).is_ok(), "request {i}");
        }
        let refused = bucket.take(t0, 25).unwrap_err();
        assert_eq!(refused.status, 429);
        assert_eq!(refused.headers, vec![("retry-after", "1".to_owned())]);
        // 200 ms later, 5 tokens have come back.
        let later = Timestamp(t0.0 + 200);
        for _ in 0..5 {
            assert!(bucket.take(later, 25).is_ok());
        }
        assert!(bucket.take(later, 25).is_err());
    }

    #[test]
    fn sustained_rate_is_honoured() {
        let mut bucket = Bucket::new();
        let mut ok = 0;
        // 10 seconds at 100 requests/s against a limit of 25/s.
        for i in 0..1000 {
            if bucket.take(Timestamp(i * 10), 25).is_ok() {
                ok += 1;
            }
        }
        // 50 of burst, plus 25/s for ~10 s.
        assert!((290..=300).contains(&ok), "{ok}");
    }
}
