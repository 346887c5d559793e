//! Confidence intervals for pass rates (DESIGN §6).
//!
//! * [`wilson_interval`] — the interval a baseline reports (`wilson_low`, `wilson_high`):
//!   good coverage even for few samples and rates near 0 or 1, where the textbook
//!   `p ± z·√(p(1-p)/n)` collapses. Matches statsmodels
//!   `proportion_confint(k, n, alpha, method="wilson")`.
//! * [`wilson_lower_bound`] / [`wilson_upper_bound`] — one-sided bounds ("the rate is at
//!   least …, with confidence c"), used for feasibility checks.
//! * [`clopper_pearson_interval`] — the "exact" interval from beta quantiles: guaranteed
//!   coverage ≥ c, at the price of being wider. Matches `method="beta"`.
//! * [`newcombe_diff_interval`] and its one-sided bounds — an interval for the difference
//!   `p1 - p2` of two independent rates (Newcombe 1998, method 10, the hybrid score
//!   interval). This is what compares a test run against its baseline counting the noise
//!   of both. Matches statsmodels `confint_proportions_2indep(..., method="newcomb")`.
//!
//! Conventions: `confidence` is the coverage (0.95), not alpha; intervals are clipped to
//! `[0, 1]` (`[-1, 1]` for a difference), as statsmodels does; zero trials give the
//! uninformative interval `[0, 1]`.
//!
//! # Panics
//! Every function panics if `successes > trials` or `confidence` is not in (0, 1).

use crate::dist::{beta_quantile, normal_isf};
use crate::{check_confidence, Interval};

#[track_caller]
fn check_counts(successes: u64, trials: u64) {
    assert!(
        successes <= trials,
        "successes ({successes}) must not exceed trials ({trials})"
    );
}

/// Wilson score interval with critical value `z`, clipped to [0, 1].
fn wilson_with_z(successes: u64, trials: u64, z: f64) -> Interval {
    if trials == 0 {
        return Interval::new(0.0, 1.0);
    }
    wilson_from_rate(successes as f64 / trials as f64, trials as f64, z)
}

/// The Wilson score interval for an observed rate `p` over `n > 0` trials, where `n` may be
/// fractional: an effective sample size (see [`crate::clustered`]) enters the formula
/// exactly as a count does.
///
/// `(p + z²/2n ± z·√(p(1-p)/n + z²/4n²)) / (1 + z²/n)`, clipped to [0, 1].
pub(crate) fn wilson_from_rate(p: f64, n: f64, z: f64) -> Interval {
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let dist = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    // At p = 0 (p = 1) the lower (upper) end is exactly 0 (1); rounding would leave ±1e-17.
    let lo = if p == 0.0 { 0.0 } else { center - dist };
    let hi = if p == 1.0 { 1.0 } else { center + dist };
    Interval::new(lo.clamp(0.0, 1.0), hi.clamp(0.0, 1.0))
}

/// Two-sided Wilson score interval for `successes / trials` at `confidence`.
///
/// Equals `statsmodels.stats.proportion.proportion_confint(successes, trials,
/// alpha=1-confidence, method="wilson")`.
pub fn wilson_interval(successes: u64, trials: u64, confidence: f64) -> Interval {
    check_counts(successes, trials);
    check_confidence(confidence);
    wilson_with_z(successes, trials, normal_isf((1.0 - confidence) / 2.0))
}

/// One-sided Wilson lower bound: the true rate is at least this, with `confidence`.
///
/// Equals `proportion_confint(k, n, alpha=1-confidence, method="wilson",
/// alternative="smaller")[0]`, i.e. the lower end of the two-sided interval at
/// `2·confidence - 1`.
pub fn wilson_lower_bound(successes: u64, trials: u64, confidence: f64) -> f64 {
    check_counts(successes, trials);
    check_confidence(confidence);
    wilson_with_z(successes, trials, normal_isf(1.0 - confidence)).lo
}

/// One-sided Wilson upper bound: the true rate is at most this, with `confidence`.
pub fn wilson_upper_bound(successes: u64, trials: u64, confidence: f64) -> f64 {
    check_counts(successes, trials);
    check_confidence(confidence);
    wilson_with_z(successes, trials, normal_isf(1.0 - confidence)).hi
}

/// Two-sided Clopper-Pearson ("exact") interval from beta quantiles: lower end
/// `Beta(k, n-k+1).ppf(α/2)` (0 when `k = 0`), upper end `Beta(k+1, n-k).ppf(1-α/2)`
/// (1 when `k = n`).
///
/// Use it when coverage must never fall below `confidence` (it is conservative). Equals
/// `proportion_confint(k, n, alpha=1-confidence, method="beta")` to about 1e-10.
pub fn clopper_pearson_interval(successes: u64, trials: u64, confidence: f64) -> Interval {
    check_counts(successes, trials);
    check_confidence(confidence);
    if trials == 0 {
        return Interval::new(0.0, 1.0);
    }
    let (k, n) = (successes as f64, trials as f64);
    let tail = (1.0 - confidence) / 2.0;
    let lo = if successes == 0 {
        0.0
    } else {
        beta_quantile(tail, k, n - k + 1.0)
    };
    let hi = if successes == trials {
        1.0
    } else {
        beta_quantile(1.0 - tail, k + 1.0, n - k)
    };
    Interval::new(lo, hi)
}

/// Newcombe's hybrid score interval for `p1 - p2` with Wilson intervals at critical value
/// `z` (Newcombe 1998, method 10).
fn newcombe_with_z(k1: u64, n1: u64, k2: u64, n2: u64, z: f64) -> Interval {
    let w1 = wilson_with_z(k1, n1, z);
    let w2 = wilson_with_z(k2, n2, z);
    let p1 = rate(k1, n1);
    let p2 = rate(k2, n2);
    let diff = p1 - p2;
    let d_low = ((p1 - w1.lo).powi(2) + (w2.hi - p2).powi(2)).sqrt();
    let d_upp = ((p2 - w2.lo).powi(2) + (w1.hi - p1).powi(2)).sqrt();
    Interval::new(diff - d_low, diff + d_upp)
}

/// `k / n`, with the midpoint 0.5 of the uninformative interval when `n = 0`.
fn rate(k: u64, n: u64) -> f64 {
    if n == 0 {
        0.5
    } else {
        k as f64 / n as f64
    }
}

/// Two-sided interval for the difference `k1/n1 - k2/n2` of two independent proportions:
/// Newcombe's hybrid score interval (method 10 of Newcombe 1998), built from the two
/// Wilson intervals. Good coverage at small counts and at rates near 0 or 1.
///
/// Equals `statsmodels.stats.proportion.confint_proportions_2indep(k1, n1, k2, n2,
/// alpha=1-confidence, method="newcomb", compare="diff")`.
pub fn newcombe_diff_interval(k1: u64, n1: u64, k2: u64, n2: u64, confidence: f64) -> Interval {
    check_counts(k1, n1);
    check_counts(k2, n2);
    check_confidence(confidence);
    newcombe_with_z(k1, n1, k2, n2, normal_isf((1.0 - confidence) / 2.0))
}

/// One-sided lower bound for `p1 - p2` at `confidence`: with that confidence the
/// difference is at least this. The lower end of [`newcombe_diff_interval`] at
/// `2·confidence - 1` (statsmodels: `alpha = 2·(1-confidence)`).
///
/// "`p1` is significantly above `p2`" at `confidence` ⇔ this bound is `> 0`.
pub fn newcombe_diff_lower_bound(k1: u64, n1: u64, k2: u64, n2: u64, confidence: f64) -> f64 {
    check_counts(k1, n1);
    check_counts(k2, n2);
    check_confidence(confidence);
    newcombe_with_z(k1, n1, k2, n2, normal_isf(1.0 - confidence)).lo
}

/// One-sided upper bound for `p1 - p2` at `confidence`: with that confidence the
/// difference is at most this. The upper end of [`newcombe_diff_interval`] at
/// `2·confidence - 1`.
///
/// "`p1` is significantly below `p2`" at `confidence` ⇔ this bound is `< 0`: the
/// probabilistic test's failure condition, with `p1` the test's rate and `p2` the
/// baseline's (see [`crate::verdict`]).
pub fn newcombe_diff_upper_bound(k1: u64, n1: u64, k2: u64, n2: u64, confidence: f64) -> f64 {
    check_counts(k1, n1);
    check_counts(k2, n2);
    check_confidence(confidence);
    newcombe_with_z(k1, n1, k2, n2, normal_isf(1.0 - confidence)).hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_extremes_are_exact() {
        let i = wilson_interval(0, 20, 0.95);
        assert_eq!(i.lo, 0.0);
        let i = wilson_interval(20, 20, 0.95);
        assert_eq!(i.hi, 1.0);
        assert_eq!(wilson_interval(0, 0, 0.95), Interval::new(0.0, 1.0));
    }

    #[test]
    fn all_success_lower_bound_closed_form() {
        // For k = n the Wilson lower bound is n / (n + z²).
        let z = normal_isf(0.05);
        for n in [1u64, 5, 30, 1000] {
            let expect = n as f64 / (n as f64 + z * z);
            let got = wilson_lower_bound(n, n, 0.95);
            assert!((got - expect).abs() < 1e-14, "n={n}: {got} vs {expect}");
        }
    }

    #[test]
    fn one_sided_is_two_sided_at_doubled_tail() {
        let two = newcombe_diff_interval(30, 40, 70, 80, 0.90);
        assert!((newcombe_diff_lower_bound(30, 40, 70, 80, 0.95) - two.lo).abs() < 1e-15);
        assert!((newcombe_diff_upper_bound(30, 40, 70, 80, 0.95) - two.hi).abs() < 1e-15);
        let w = wilson_interval(7, 9, 0.8);
        assert!((wilson_lower_bound(7, 9, 0.9) - w.lo).abs() < 1e-15);
        assert!((wilson_upper_bound(7, 9, 0.9) - w.hi).abs() < 1e-15);
    }

    #[test]
    #[should_panic(expected = "must not exceed trials")]
    fn rejects_more_successes_than_trials() {
        wilson_interval(3, 2, 0.95);
    }

    #[test]
    #[should_panic(expected = "confidence must be in (0, 1)")]
    fn rejects_confidence_as_percent() {
        wilson_interval(1, 2, 95.0);
    }
}
