//! A model's rate limit, shared by all samples and enforced smoothly.
//!
//! Providers count requests and tokens over a sliding minute; sending a minute's budget
//! in a burst at its start earns 429s for the rest of it. So requests are spaced
//! `60/rpm` seconds apart, and tokens flow through a bucket that refills continuously at
//! `tpm/60` per second (a GCRA: each call pushes the bucket's "paid until" time forward by
//! its tokens' worth). A call's tokens are estimated before it is sent and corrected with
//! the usage the server reports.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::models::RateLimit;

/// The limiter of one model.
#[derive(Debug)]
pub struct RateLimiter {
    request_interval: Option<Duration>,
    /// Time one token takes to refill.
    token_interval: Option<Duration>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The earliest moment the next request may start.
    next_request: Instant,
    /// The moment the tokens reserved so far are paid for.
    tokens_paid_until: Instant,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        let per = |per_minute: Option<f64>| {
            per_minute
                .filter(|n| *n > 0.0)
                .map(|n| Duration::from_secs_f64(60.0 / n))
        };
        let now = Instant::now();
        RateLimiter {
            request_interval: per(limit.requests_per_minute),
            token_interval: per(limit.tokens_per_minute),
            state: Mutex::new(State {
                next_request: now,
                tokens_paid_until: now,
            }),
        }
    }

    /// Waits for this call's turn: the request slot and `tokens` worth of bucket. The
    /// slot is reserved at once, so concurrent callers queue in arrival order.
    pub async fn acquire(&self, tokens: u64) {
        let start = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let mut start = now.max(state.next_request);
            if self.token_interval.is_some() {
                start = start.max(state.tokens_paid_until);
            }
            if let Some(interval) = self.request_interval {
                state.next_request = start + interval;
            }
            if let Some(interval) = self.token_interval {
                state.tokens_paid_until = start + interval.saturating_mul(saturate(tokens));
            }
            start
        };
        tokio::time::sleep_until(start).await;
    }

    /// Corrects a call's estimate with the tokens the server reported: more moves the
    /// bucket's debt forward, fewer gives the difference back (but no credit beyond
    /// "now", which would allow a burst).
    pub fn correct(&self, estimated: u64, actual: u64) {
        let Some(interval) = self.token_interval else {
            return;
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if actual >= estimated {
            state.tokens_paid_until += interval.saturating_mul(saturate(actual - estimated));
        } else {
            let back = interval.saturating_mul(saturate(estimated - actual));
            let now = Instant::now();
            state.tokens_paid_until = state
                .tokens_paid_until
                .checked_sub(back)
                .unwrap_or(now)
                .max(now);
        }
    }
}

fn saturate(n: u64) -> u32 {
    n.min(u32::MAX as u64) as u32
}

/// The tokens a call will likely use, before it is sent: the prompt's characters / 4
/// plus `max_tokens` (the most it may generate; 256 when not set).
pub fn estimate_tokens(prompt_chars: usize, max_tokens: Option<u64>) -> u64 {
    (prompt_chars as u64).div_ceil(4) + max_tokens.unwrap_or(256)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn limiter(rpm: Option<f64>, tpm: Option<f64>) -> Arc<RateLimiter> {
        Arc::new(RateLimiter::new(RateLimit {
            requests_per_minute: rpm,
            tokens_per_minute: tpm,
        }))
    }

    /// Starts `n` concurrent acquirers and returns when each got through, in ms from now.
    async fn starts(limiter: &Arc<RateLimiter>, n: usize, tokens: u64) -> Vec<u64> {
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let limiter = Arc::clone(limiter);
                tokio::spawn(async move {
                    limiter.acquire(tokens).await;
                    t0.elapsed().as_millis() as u64
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out.sort_unstable();
        out
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_not_burst() {
        // 600 rpm = one request every 100 ms.
        let limiter = limiter(Some(600.0), None);
        assert_eq!(starts(&limiter, 5, 0).await, [0, 100, 200, 300, 400]);
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_flow_at_the_minute_rate() {
        // 6,000 tpm = 100 tokens per second; calls of 50 tokens start every 500 ms.
        let limiter = limiter(None, Some(6000.0));
        assert_eq!(starts(&limiter, 4, 50).await, [0, 500, 1000, 1500]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_slower_of_the_two_limits_wins() {
        let limiter = limiter(Some(600.0), Some(6000.0));
        // 10 tokens take 100 ms, as does the request spacing; 100 tokens take 1 s.
        assert_eq!(starts(&limiter, 3, 10).await, [0, 100, 200]);
        let limiter2 = self::limiter(Some(600.0), Some(6000.0));
        assert_eq!(starts(&limiter2, 3, 100).await, [0, 1000, 2000]);
    }

    #[tokio::test(start_paused = true)]
    async fn reported_usage_corrects_the_estimate() {
        let limiter = limiter(None, Some(6000.0));
        limiter.acquire(100).await; // paid until 1 s
        limiter.correct(100, 300); // it used 300: paid until 3 s
        let t0 = Instant::now();
        limiter.acquire(0).await;
        assert_eq!(t0.elapsed().as_millis(), 3000);

        let limiter = self::limiter(None, Some(6000.0));
        limiter.acquire(100).await; // paid until 1 s
        limiter.correct(100, 20); // used 20: paid until 200 ms
        let t0 = Instant::now();
        limiter.acquire(0).await;
        assert_eq!(t0.elapsed().as_millis(), 200);
        limiter.correct(1000, 0); // no credit beyond now
        let t0 = Instant::now();
        limiter.acquire(100).await;
        limiter.acquire(0).await;
        assert_eq!(t0.elapsed().as_millis(), 1000);
    }

    #[test]
    fn estimate_is_prompt_quarter_plus_max_tokens() {
        assert_eq!(estimate_tokens(400, Some(50)), 150);
        assert_eq!(estimate_tokens(1, None), 257);
    }
}
