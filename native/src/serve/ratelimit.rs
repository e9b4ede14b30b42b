//! Per-token rate limiting: a token bucket refilled at N requests per second, holding at most
//! N (one second's worth of burst). An empty bucket answers 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub fn new(per_second: u32) -> RateLimiter {
        let rate = f64::from(per_second.max(1));
        RateLimiter {
            per_second: rate,
            burst: rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Takes one request from `key`'s bucket. `Err(seconds)` says when to retry.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

/// Parses `--rate-limit`: `N/s`, `N` or `off`.
pub fn parse_rate(text: &str) -> Result<Option<u32>, String> {
    let t = text.trim().to_ascii_lowercase();
    if t == "off" || t == "0" || t == "none" {
        return Ok(None);
    }
    let n = t.strip_suffix("/s").unwrap_or(&t).trim();
    n.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| {
            format!("--rate-limit must be N/s (requests per second per token) or off, not {text:?}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_empties_and_refills() {
        let l = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(l.check_at("k", t0).is_ok());
        assert!(l.check_at("k", t0).is_ok());
        assert_eq!(l.check_at("k", t0), Err(1));
        assert!(l.check_at("other", t0).is_ok());
        assert!(l.check_at("k", t0 + Duration::from_millis(600)).is_ok());
    }

    #[test]
    fn parses_rates() {
        assert_eq!(parse_rate("50/s"), Ok(Some(50)));
        assert_eq!(parse_rate("7"), Ok(Some(7)));
        assert_eq!(parse_rate("off"), Ok(None));
        assert!(parse_rate("fast").is_err());
    }
}
