//! The measurement policy: calibrate iterations per round to a minimum round time, warm up,
//! then time rounds while the time budget allows (at least `min_rounds`).

use std::future::Future;
use std::time::Instant;

use dbtest_stats::bootstrap::median_ci;
use dbtest_stats::descriptive::{tukey_outliers, Summary};

use crate::model::{BenchCase, BenchError, BenchResult, Settings, Stats, TimerInfo};

/// Times rounds of one benchmark: `iterations` calls, returning the nanoseconds they took.
pub trait RoundTimer {
    fn round(&mut self, iterations: u64) -> impl Future<Output = Result<u64, BenchError>> + Send;
}

/// The coefficient of variation above which a benchmark is flagged unstable.
pub const UNSTABLE_CV: f64 = 0.10;
/// A round shorter than this many clock steps measures the clock more than the code.
const MIN_ROUND_IN_CLOCK_STEPS: f64 = 1000.0;
/// Calibration never goes past this many iterations per round (a benchmark that is still
/// below the round time there is as fast as the empty loop).
const MAX_ITERATIONS: u64 = 1 << 30;
const CONFIDENCE: f64 = 0.95;
const RESAMPLES: usize = 2000;

/// The budget pytest-benchmark's `benchmark` fixture asks for; what it leaves unset is dbtest
/// bench's default.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub warmup_rounds: Option<u32>,
    pub min_rounds: Option<u32>,
    pub max_time_s: Option<f64>,
    pub min_round_time_s: Option<f64>,
}

impl Budget {
    pub fn settings(&self) -> Settings {
        let defaults = Settings::default();
        Settings {
            warmup_rounds: self.warmup_rounds.unwrap_or(defaults.warmup_rounds),
            min_rounds: self.min_rounds.unwrap_or(defaults.min_rounds),
            max_time_s: self.max_time_s.unwrap_or(defaults.max_time_s),
            min_round_time_s: self.min_round_time_s.unwrap_or(defaults.min_round_time_s),
            // A test's own gc is the test's business.
            gc_disabled: false,
        }
    }
}

/// Times a callable from inside a test (pytest-benchmark's `benchmark` fixture) on the
/// calling thread, which it holds while timing: a benchmark is never measured beside other
/// work.
pub fn measure_callable(
    name: &str,
    timer: &mut impl RoundTimer,
    budget: &Budget,
    clock: &TimerInfo,
) -> BenchResult {
    let case = BenchCase {
        file: String::new(),
        line: 0,
        group: String::new(),
        name: name.to_string(),
        params: None,
        baseline: false,
        is_async: false,
        key: 0,
    };
    futures::executor::block_on(measure(&case, timer, &budget.settings(), clock))
}

/// Measures `case` with `timer` under `settings`.
pub async fn measure(
    case: &BenchCase,
    timer: &mut impl RoundTimer,
    settings: &Settings,
    clock: &TimerInfo,
) -> BenchResult {
    let mut result = BenchResult {
        file: case.file.clone(),
        line: case.line,
        group: case.group.clone(),
        name: case.name.clone(),
        params: case.params.clone(),
        baseline: case.baseline,
        iterations_per_round: 0,
        warmup_rounds: settings.warmup_rounds,
        rounds: Vec::new(),
        stats: None,
        warnings: Vec::new(),
        error: None,
    };
    if let Err(e) = run_rounds(timer, settings, &mut result).await {
        result.error = Some(e);
        return result;
    }
    let stats = stats_of(&result.rounds, case);
    result.warnings = warnings(&stats, &result, clock);
    result.stats = Some(stats);
    result
}

async fn run_rounds(
    timer: &mut impl RoundTimer,
    settings: &Settings,
    result: &mut BenchResult,
) -> Result<(), BenchError> {
    let min_round_ns = settings.min_round_time_s * 1e9;
    // Calibration: grow the iteration count until one round takes the minimum round time.
    let mut iterations: u64 = 1;
    loop {
        let ns = timer.round(iterations).await? as f64;
        if ns >= min_round_ns || iterations >= MAX_ITERATIONS {
            break;
        }
        let scale = if ns <= 0.0 {
            10.0
        } else {
            (min_round_ns / ns * 1.2).clamp(1.5, 10.0)
        };
        iterations = ((iterations as f64 * scale).ceil() as u64).min(MAX_ITERATIONS);
    }
    result.iterations_per_round = iterations;
    for _ in 0..settings.warmup_rounds {
        timer.round(iterations).await?;
    }
    let started = Instant::now();
    loop {
        let ns = timer.round(iterations).await?;
        result.rounds.push(ns as f64 / 1e9 / iterations as f64);
        let enough = result.rounds.len() >= settings.min_rounds as usize;
        if enough && started.elapsed().as_secs_f64() >= settings.max_time_s {
            break;
        }
    }
    Ok(())
}

fn stats_of(rounds: &[f64], case: &BenchCase) -> Stats {
    let summary = Summary::from_samples(rounds);
    // A fixed seed per benchmark keeps the interval of the same rounds the same on every run.
    let seed = case.id().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    Stats {
        ops: if summary.median > 0.0 {
            1.0 / summary.median
        } else {
            f64::INFINITY
        },
        median_ci: median_ci(rounds, CONFIDENCE, RESAMPLES, seed),
        confidence: CONFIDENCE,
        outliers: tukey_outliers(rounds),
        summary,
    }
}

fn warnings(stats: &Stats, result: &BenchResult, clock: &TimerInfo) -> Vec<String> {
    let mut out = Vec::new();
    let s = &stats.summary;
    if s.cv > UNSTABLE_CV {
        out.push(format!(
            "unstable: the rounds vary by {:.0}% (coefficient of variation); close other programs, \
             raise --min-round-time or --max-time, or try --disable-gc",
            s.cv * 100.0
        ));
    }
    let round_s = s.median * result.iterations_per_round as f64;
    if round_s < clock.resolution_s * MIN_ROUND_IN_CLOCK_STEPS {
        out.push(format!(
            "rounds of {} are too short for this clock ({} steps); raise --min-round-time",
            crate::render::fmt_time(round_s),
            crate::render::fmt_time(clock.resolution_s)
        ));
    }
    if s.median < 2.0 * clock.overhead_s {
        out.push(format!(
            "too fast to resolve: the figure is within 2x of the empty loop's {} per call, so most \
             of it is the loop, not the code",
            crate::render::fmt_time(clock.overhead_s)
        ));
    }
    let o = &stats.outliers;
    if o.total() * 10 > s.n {
        out.push(format!(
            "{} of {} rounds are outliers (Tukey)",
            o.total(),
            s.n
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::tests_support::case;
    use super::*;

    #[test]
    fn a_budget_keeps_what_the_fixture_left_unset_at_dbtest_bench_defaults() {
        let budget: Budget =
            serde_json::from_value(serde_json::json!({"min_rounds": 9, "max_time_s": 0.5}))
                .unwrap();
        let defaults = Settings::default();
        let s = budget.settings();
        assert_eq!((s.min_rounds, s.max_time_s), (9, 0.5));
        assert_eq!(
            (s.warmup_rounds, s.min_round_time_s),
            (defaults.warmup_rounds, defaults.min_round_time_s)
        );
        assert!(serde_json::from_value::<Budget>(serde_json::json!({"rounds": 1})).is_err());
    }

    /// A fake benchmark whose call costs `ns_per_call`, with a fixed per-round overhead.
    struct Fixed {
        ns_per_call: u64,
        calls: Vec<u64>,
    }

    impl RoundTimer for Fixed {
        async fn round(&mut self, iterations: u64) -> Result<u64, BenchError> {
            self.calls.push(iterations);
            Ok(self.ns_per_call * iterations + 50)
        }
    }

    const CLOCK: TimerInfo = TimerInfo {
        resolution_s: 1e-9,
        overhead_s: 30e-9,
    };

    #[tokio::test]
    async fn calibrates_to_the_round_time_then_warms_up_and_times() {
        let mut timer = Fixed {
            ns_per_call: 1_000,
            calls: vec![],
        };
        let settings = Settings {
            max_time_s: 0.0,
            ..Default::default()
        };
        let r = measure(&case(), &mut timer, &settings, &CLOCK).await;
        // 10 ms rounds of 1 us calls: at least 10,000 iterations.
        assert!(
            r.iterations_per_round >= 10_000,
            "{}",
            r.iterations_per_round
        );
        assert!(
            r.iterations_per_round <= 25_000,
            "{}",
            r.iterations_per_round
        );
        assert_eq!(r.rounds.len(), 5);
        let warm_and_timed = timer
            .calls
            .iter()
            .filter(|&&n| n == r.iterations_per_round)
            .count();
        assert!(warm_and_timed >= 3 + 5);
        let median = r.stats.unwrap().summary.median;
        assert!((median - 1e-6).abs() / 1e-6 < 0.01, "{median}");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[tokio::test]
    async fn a_benchmark_near_the_empty_loop_is_flagged() {
        let mut timer = Fixed {
            ns_per_call: 40,
            calls: vec![],
        };
        let settings = Settings {
            max_time_s: 0.0,
            ..Default::default()
        };
        let r = measure(&case(), &mut timer, &settings, &CLOCK).await;
        assert!(
            r.warnings
                .iter()
                .any(|w| w.starts_with("too fast to resolve")),
            "{:?}",
            r.warnings
        );
    }

    struct Failing;
    impl RoundTimer for Failing {
        async fn round(&mut self, _: u64) -> Result<u64, BenchError> {
            Err(BenchError {
                message: "ZeroDivisionError: division by zero".into(),
                traceback: None,
            })
        }
    }

    #[tokio::test]
    async fn an_error_is_reported_not_measured() {
        let r = measure(&case(), &mut Failing, &Settings::default(), &CLOCK).await;
        assert!(r.stats.is_none());
        assert_eq!(
            r.error.unwrap().message,
            "ZeroDivisionError: division by zero"
        );
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// A benchmark case for tests.
    pub fn case() -> BenchCase {
        BenchCase {
            file: "benches/bench_a.py".into(),
            line: 1,
            group: "g".into(),
            name: "n".into(),
            params: None,
            baseline: false,
            is_async: false,
            key: 0,
        }
    }

    /// A measured result made from given rounds, for tests of what consumes results.
    pub fn result_with_rounds(rounds: &[f64]) -> BenchResult {
        let case = case();
        BenchResult {
            file: case.file.clone(),
            line: 1,
            group: case.group.clone(),
            name: case.name.clone(),
            params: None,
            baseline: false,
            iterations_per_round: 1000,
            warmup_rounds: 3,
            rounds: rounds.to_vec(),
            stats: Some(stats_of(rounds, &case)),
            warnings: Vec::new(),
            error: None,
        }
    }
}
