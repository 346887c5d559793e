//! When a failed attempt is tried again, and how long to wait first.
//!
//! Retried: connection errors, timeouts, 408, 409, 429 and 5xx. Not retried: other 4xx,
//! and 401/403, which are fatal for the run (the key is wrong for every sample). The wait
//! is exponential backoff with full jitter — uniform in `[0, min(cap, base·2^n)]`, which
//! spreads many samples' retries instead of synchronising them — but never sooner than
//! the server's `Retry-After` / `retry-after-ms`. Time is `tokio::time`, and the jitter
//! comes from a seeded RNG, so tests on paused time are exact and re-runs repeat.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::limit::RateLimiter;
use tokio::time::Instant;

use crate::transport::{
    error_summary, HttpRequest, HttpResponse, Transport, TransportError, TransportErrorKind,
};

/// One try of a request, as the sample log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The HTTP status, or `None` when no answer came (connection error, timeout).
    pub status: Option<u16>,
    /// What went wrong, when something did.
    pub error: Option<String>,
    /// The pause before this attempt: backoff or `Retry-After`, plus any wait for the
    /// model's rate limit.
    pub wait_ms: u64,
    pub duration_ms: u64,
}

/// How many attempts and how long the backoff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; doubled for each later one.
    pub base: Duration,
    /// The largest backoff ceiling.
    pub cap: Duration,
    /// A server asking for a longer pause than this is taken as down: the call gives up
    /// instead of leaving the sample hanging.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// What a status means for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    Retry,
    /// 401/403: stop the run.
    Fatal,
    /// Other 4xx (and anything else unexpected): the sample fails, no retry.
    Reject,
}

pub fn classify(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        401 | 403 => StatusClass::Fatal,
        408 | 409 | 429 | 500..=599 => StatusClass::Retry,
        _ => StatusClass::Reject,
    }
}

impl RetryPolicy {
    /// The full-jitter backoff before retry number `retry` (0 = the first retry).
    pub fn backoff(&self, retry: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.min(30)))
            .min(self.cap);
        let ceiling_us = ceiling.as_micros() as u64;
        Duration::from_micros(rng.u64(0..=ceiling_us))
    }
}

/// The pause the server asked for: the larger of `retry-after-ms` and `Retry-After`
/// (delta seconds, fractional accepted, or an HTTP date measured from `now`).
pub fn server_wait(response: &HttpResponse, now: SystemTime) -> Option<Duration> {
    let ms = response
        .retry_after_ms
        .as_deref()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| Duration::from_secs_f64(v / 1000.0));
    let after = response.retry_after.as_deref().and_then(|v| {
        let v = v.trim();
        if let Ok(secs) = v.parse::<f64>() {
            return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
        }
        let date = jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(v)
            .ok()?;
        let at = SystemTime::from(date);
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    });
    ms.max(after)
}

/// How the attempts ended, when not with a success.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Fatal { status: u16, message: String },
    Rejected { status: u16, message: String },
    Exhausted { last: String },
}

/// What one attempt's result means for the loop.
enum Verdict {
    Done(Result<HttpResponse, Failure>),
    Retry {
        last: String,
        asked: Option<Duration>,
    },
}

/// Judges one attempt: its error text for the log, and whether to go on.
fn judge(
    result: Result<HttpResponse, TransportError>,
    request: &HttpRequest,
) -> (Option<u16>, Option<String>, Verdict) {
    let response = match result {
        Ok(response) => response,
        Err(e) => {
            let what = match e.kind {
                TransportErrorKind::Timeout => format!("timed out after {:?}", request.timeout),
                TransportErrorKind::Connect => format!("connection failed: {}", e.message),
                TransportErrorKind::Other => e.message,
            };
            return (
                None,
                Some(what.clone()),
                Verdict::Retry {
                    last: what,
                    asked: None,
                },
            );
        }
    };
    let status = response.status;
    let class = classify(status);
    let message = match class {
        StatusClass::Success => return (Some(status), None, Verdict::Done(Ok(response))),
        // Not the body: some servers echo part of the key in a 401.
        StatusClass::Fatal => format!(
            "{status} {}",
            if status == 401 {
                "Unauthorized"
            } else {
                "Forbidden"
            }
        ),
        _ => format!("{status} {}", error_summary(&response.body)),
    };
    let verdict = match class {
        StatusClass::Fatal => Verdict::Done(Err(Failure::Fatal {
            status,
            message: message.clone(),
        })),
        StatusClass::Reject => Verdict::Done(Err(Failure::Rejected {
            status,
            message: message.clone(),
        })),
        _ => Verdict::Retry {
            last: message.clone(),
            asked: server_wait(&response, SystemTime::now()),
        },
    };
    (Some(status), Some(message), verdict)
}

/// How many times `max_attempts` a call may take when the server paces it.
const PACED_CEILING: usize = 10;

/// Sends `request` until it succeeds, fails for good, or the attempts are spent. Before
/// each attempt the model's rate limiter (if any) is waited on for `estimated_tokens`;
/// the caller corrects the estimate once usage is known.
pub async fn send_with_retry(
    transport: &dyn Transport,
    request: &HttpRequest,
    policy: &RetryPolicy,
    rng: &mut fastrand::Rng,
    limiter: Option<&RateLimiter>,
    estimated_tokens: u64,
) -> (Result<HttpResponse, Failure>, Vec<Attempt>) {
    let mut attempts = Vec::new();
    let mut unpaced = 0usize;
    let mut pause = Duration::ZERO;
    loop {
        let waited_from = Instant::now();
        if !pause.is_zero() {
            // Even a zero sleep waits for the timer's next tick (a millisecond).
            tokio::time::sleep(pause).await;
        }
        if let Some(limiter) = limiter {
            limiter.acquire(estimated_tokens).await;
        }
        let started = Instant::now();
        let result = transport.send(request).await;
        let duration_ms = millis(started.elapsed());
        let (status, error, verdict) = judge(result, request);
        attempts.push(Attempt {
            status,
            error,
            wait_ms: millis(started - waited_from),
            duration_ms,
        });
        let (last, asked) = match verdict {
            Verdict::Done(result) => return (result, attempts),
            Verdict::Retry { last, asked } => (last, asked),
        };
        // A server that says when to come back (Retry-After on a 429 storm) is alive and
        // pacing the calls: those answers do not use up attempts, or a storm would lose
        // samples; a hard ceiling still ends a call that is paced forever.
        if asked.is_none() {
            unpaced += 1;
        }
        if unpaced >= policy.max_attempts.max(1) as usize
            || attempts.len() >= PACED_CEILING * policy.max_attempts.max(1) as usize
        {
            return (Err(Failure::Exhausted { last }), attempts);
        }
        if let Some(asked) = asked.filter(|a| *a > policy.max_retry_after) {
            let last = format!("{last} (the server asked to wait {}s)", asked.as_secs());
            return (Err(Failure::Exhausted { last }), attempts);
        }
        let backoff = policy.backoff(attempts.len() as u32 - 1, rng);
        pause = backoff.max(asked.unwrap_or_default());
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::future::BoxFuture;
    use std::sync::Mutex;

    /// Answers from a script, one entry per attempt.
    struct Script(Mutex<Vec<Result<HttpResponse, TransportError>>>);

    impl Transport for Script {
        fn send<'a>(
            &'a self,
            _: &'a HttpRequest,
        ) -> BoxFuture<'a, Result<HttpResponse, TransportError>> {
            let next = self.0.lock().unwrap().remove(0);
            Box::pin(async move { next })
        }
    }

    fn status(status: u16) -> Result<HttpResponse, TransportError> {
        Ok(HttpResponse {
            status,
            retry_after: None,
            retry_after_ms: None,
            body: String::new(),
        })
    }

    fn request() -> HttpRequest {
        HttpRequest {
            url: "http://x".into(),
            auth: crate::models::Auth {
                scheme: crate::models::AuthScheme::Bearer,
                key: None,
                key_env: None,
            },
            body: serde_json::Value::Null,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn classes() {
        assert_eq!(classify(200), StatusClass::Success);
        for s in [408, 409, 429, 500, 502, 503, 599] {
            assert_eq!(classify(s), StatusClass::Retry, "{s}");
        }
        assert_eq!(classify(401), StatusClass::Fatal);
        assert_eq!(classify(403), StatusClass::Fatal);
        for s in [400, 404, 422] {
            assert_eq!(classify(s), StatusClass::Reject, "{s}");
        }
    }

    #[test]
    fn backoff_is_full_jitter_under_a_capped_ceiling() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let mut rng = fastrand::Rng::with_seed(7);
        for retry in 0..10 {
            let ceiling = Duration::from_millis(100 * 2u64.pow(retry)).min(Duration::from_secs(1));
            let draws: Vec<_> = (0..200).map(|_| policy.backoff(retry, &mut rng)).collect();
            assert!(draws.iter().all(|d| *d <= ceiling));
            // Full jitter: draws reach both ends of [0, ceiling].
            assert!(draws.iter().any(|d| *d < ceiling / 10), "retry {retry}");
            assert!(draws.iter().any(|d| *d > ceiling * 9 / 10), "retry {retry}");
        }
        let again: Vec<_> = {
            let mut rng = fastrand::Rng::with_seed(7);
            (0..5).map(|_| policy.backoff(0, &mut rng)).collect()
        };
        let mut rng = fastrand::Rng::with_seed(7);
        assert_eq!(
            again,
            (0..5)
                .map(|_| policy.backoff(0, &mut rng))
                .collect::<Vec<_>>(),
            "seeded"
        );
    }

    #[test]
    fn retry_after_in_seconds_ms_or_http_date() {
        let mut r = HttpResponse {
            status: 429,
            retry_after: Some("2".into()),
            retry_after_ms: None,
            body: String::new(),
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(server_wait(&r, now), Some(Duration::from_secs(2)));
        r.retry_after_ms = Some("2500".into());
        assert_eq!(
            server_wait(&r, now),
            Some(Duration::from_millis(2500)),
            "the larger wins"
        );
        // 2001-09-09T01:46:40Z is 1e9 s; ten seconds later:
        r.retry_after = Some("Sun, 09 Sep 2001 01:46:50 GMT".into());
        r.retry_after_ms = None;
        assert_eq!(server_wait(&r, now), Some(Duration::from_secs(10)));
        r.retry_after = Some("Sun, 09 Sep 2001 01:46:30 GMT".into());
        assert_eq!(
            server_wait(&r, now),
            Some(Duration::ZERO),
            "a date in the past"
        );
        r.retry_after = Some("soon".into());
        assert_eq!(server_wait(&r, now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_at_least_retry_after_then_succeeds() {
        let mut limited = status(429).unwrap();
        limited.retry_after = Some("3".into());
        let transport = Script(Mutex::new(vec![Ok(limited), status(503), status(200)]));
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            ..RetryPolicy::default()
        };
        let start = tokio::time::Instant::now();
        let (result, attempts) = send_with_retry(
            &transport,
            &request(),
            &policy,
            &mut fastrand::Rng::with_seed(1),
            None,
            0,
        )
        .await;
        assert_eq!(result.unwrap().status, 200);
        let statuses: Vec<_> = attempts.iter().map(|a| a.status).collect();
        assert_eq!(statuses, [Some(429), Some(503), Some(200)]);
        assert_eq!(attempts[0].wait_ms, 0);
        assert!(
            attempts[1].wait_ms >= 3000,
            "never sooner than Retry-After: {attempts:?}"
        );
        assert!(
            attempts[2].wait_ms <= 200,
            "second retry's ceiling is base*2: {attempts:?}"
        );
        assert_eq!(
            start.elapsed().as_millis() as u64,
            attempts.iter().map(|a| a.wait_ms).sum::<u64>()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_and_rejected_are_not_retried() {
        for (code, fatal) in [(401, true), (403, true), (400, false), (404, false)] {
            let transport = Script(Mutex::new(vec![status(code), status(200)]));
            let (result, attempts) = send_with_retry(
                &transport,
                &request(),
                &RetryPolicy::default(),
                &mut fastrand::Rng::with_seed(1),
                None,
                0,
            )
            .await;
            assert_eq!(attempts.len(), 1);
            assert_eq!(
                matches!(result, Err(Failure::Fatal { .. })),
                fatal,
                "{code}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_401_body_is_not_logged() {
        let mut denied = status(401).unwrap();
        denied.body =
            r#"{"error": {"message": "Incorrect API key provided: sk-abc***wxyz"}}"#.into();
        let transport = Script(Mutex::new(vec![Ok(denied)]));
        let (result, attempts) = send_with_retry(
            &transport,
            &request(),
            &RetryPolicy::default(),
            &mut fastrand::Rng::with_seed(1),
            None,
            0,
        )
        .await;
        assert_eq!(attempts[0].error.as_deref(), Some("401 Unauthorized"));
        assert_eq!(
            result.unwrap_err(),
            Failure::Fatal {
                status: 401,
                message: "401 Unauthorized".into()
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn connection_errors_retry_until_attempts_are_spent() {
        let down = || {
            Err(TransportError {
                kind: TransportErrorKind::Connect,
                message: "refused".into(),
            })
        };
        let transport = Script(Mutex::new((0..3).map(|_| down()).collect()));
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let (result, attempts) = send_with_retry(
            &transport,
            &request(),
            &policy,
            &mut fastrand::Rng::with_seed(1),
            None,
            0,
        )
        .await;
        assert_eq!(attempts.len(), 3);
        assert!(attempts.iter().all(|a| a.status.is_none()));
        assert_eq!(
            result.unwrap_err(),
            Failure::Exhausted {
                last: "connection failed: refused".into()
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_beyond_the_limit_gives_up() {
        let mut limited = status(429).unwrap();
        limited.retry_after = Some("3600".into());
        let transport = Script(Mutex::new(vec![Ok(limited)]));
        let (result, attempts) = send_with_retry(
            &transport,
            &request(),
            &RetryPolicy::default(),
            &mut fastrand::Rng::with_seed(1),
            None,
            0,
        )
        .await;
        assert_eq!(attempts.len(), 1);
        assert!(matches!(result, Err(Failure::Exhausted { last }) if last.contains("3600s")));
    }
}
