//! How many samples an experiment or a spec needs (DESIGN §6).
//!
//! * [`samples_to_detect_drop`] — plan an experiment or a spec's `samples`: how many
//!   samples a one-sided one-sample proportion test needs to notice that the pass rate fell
//!   from `p0` to `p1`.
//! * [`feasibility_min_samples`] — refuse a spec "whose sample count can never show its
//!   threshold": below this many samples even a perfect run cannot demonstrate the
//!   threshold with the spec's confidence.

use crate::check_confidence;
use crate::dist::normal_isf;
use crate::proportion::wilson_lower_bound;

#[track_caller]
fn check_rates(p0: f64, p1: f64, alpha: f64, power: f64) {
    assert!(
        (0.0..=1.0).contains(&p0) && (0.0..=1.0).contains(&p1),
        "rates must be in [0, 1], got p0={p0}, p1={p1}"
    );
    assert!(
        alpha > 0.0 && alpha < 1.0,
        "alpha must be in (0, 1), got {alpha}"
    );
    assert!(
        power > 0.0 && power < 1.0,
        "power must be in (0, 1), got {power}"
    );
}

/// Sample size (unrounded) for a one-sided one-sample test of a proportion, by the
/// classic normal-approximation formula
///
/// ```text
/// n = ( (z_α·√(p0·q0) + z_β·√(p1·q1)) / (p0 - p1) )²,   q = 1 - p,
/// z_α = Φ⁻¹(1 - α), z_β = Φ⁻¹(power)
/// ```
///
/// (e.g. Chow, Shao & Wang, *Sample Size Calculations in Clinical Research*, §4.1; also
/// Fleiss). It uses the null variance `p0·q0` for the critical value and the alternative
/// variance `p1·q1` for the power, which is how the test is actually run. It is symmetric
/// in the direction of the change; `p0 = p1` gives infinity.
///
/// # Panics
/// If a rate is outside `[0, 1]`, or `alpha` or `power` is outside (0, 1).
pub fn one_sample_proportion_n(p0: f64, p1: f64, alpha: f64, power: f64) -> f64 {
    check_rates(p0, p1, alpha, power);
    let za = normal_isf(alpha);
    let zb = normal_isf(1.0 - power);
    let num = za * (p0 * (1.0 - p0)).sqrt() + zb * (p1 * (1.0 - p1)).sqrt();
    (num / (p0 - p1)).powi(2)
}

/// Sample size (unrounded) by the arcsine (Cohen's h) approximation, `n = ((z_α + z_β) /
/// h)²` with `h = 2·asin(√p0) - 2·asin(√p1)`.
///
/// This is what statsmodels computes with
/// `NormalIndPower().solve_power(proportion_effectsize(p0, p1), alpha=α, power=power,
/// ratio=0, alternative="larger")`; offered so numbers can be compared with tools that use
/// it. It agrees with [`one_sample_proportion_n`] for rates near 0.5 but asks for many more
/// samples near 0 or 1 (0.99 → 0.95 at α = 0.01, 80% power: 160 against 108).
///
/// # Panics
/// As [`one_sample_proportion_n`].
pub fn one_sample_proportion_n_arcsine(p0: f64, p1: f64, alpha: f64, power: f64) -> f64 {
    check_rates(p0, p1, alpha, power);
    let h = 2.0 * p0.sqrt().asin() - 2.0 * p1.sqrt().asin();
    ((normal_isf(alpha) + normal_isf(1.0 - power)) / h).powi(2)
}

/// Samples needed to detect a drop of the pass rate from `p0` to `p1` with a one-sided
/// test at level `alpha` and the given `power`: [`one_sample_proportion_n`] rounded up.
/// Returns `u64::MAX` when `p0 = p1` (no sample count suffices).
///
/// Example: from 0.95 to 0.85 at α = 0.05 with 80% power needs 44 samples.
///
/// # Panics
/// As [`one_sample_proportion_n`].
pub fn samples_to_detect_drop(p0: f64, p1: f64, alpha: f64, power: f64) -> u64 {
    let n = one_sample_proportion_n(p0, p1, alpha, power);
    if n.is_finite() {
        // Saturating float-to-int cast; n >= 0.
        n.ceil().max(1.0) as u64
    } else {
        u64::MAX
    }
}

/// The smallest sample count `n` at which an all-success run (`n / n`) has a one-sided
/// Wilson lower bound at `confidence` of at least `threshold`.
///
/// A spec with fewer samples can never show its threshold, however well the feature
/// behaves, so it is refused before any sample runs. For `k = n` the Wilson lower bound is
/// `n / (n + z²)`, giving `n = ⌈threshold · z² / (1 - threshold)⌉`; the result is checked
/// against [`wilson_lower_bound`] itself so the two can never disagree. Returns `None` for
/// `threshold >= 1` (no finite `n` suffices) and `Some(1)` for `threshold <= 0`.
///
/// Example: a 0.95 threshold at 95% confidence needs at least 52 samples.
///
/// # Panics
/// If `threshold` is NaN or `confidence` is not in (0, 1).
pub fn feasibility_min_samples(threshold: f64, confidence: f64) -> Option<u64> {
    assert!(!threshold.is_nan(), "threshold must not be NaN");
    check_confidence(confidence);
    if threshold >= 1.0 {
        return None;
    }
    if threshold <= 0.0 {
        return Some(1);
    }
    let z = normal_isf(1.0 - confidence);
    let estimate = (threshold * z * z / (1.0 - threshold)).ceil();
    if estimate >= 1e15 {
        // Beyond any sample count that could run; also keeps u64 arithmetic exact.
        return None;
    }
    let shows = |n: u64| wilson_lower_bound(n, n, confidence) >= threshold;
    let mut n = (estimate as u64).max(1);
    while n > 1 && shows(n - 1) {
        n -= 1;
    }
    while !shows(n) {
        n += 1;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feasibility_boundary() {
        let n = feasibility_min_samples(0.95, 0.95).unwrap();
        assert!(wilson_lower_bound(n, n, 0.95) >= 0.95);
        assert!(wilson_lower_bound(n - 1, n - 1, 0.95) < 0.95);
        assert_eq!(n, 52);
        assert_eq!(feasibility_min_samples(1.0, 0.95), None);
        assert_eq!(feasibility_min_samples(0.0, 0.95), Some(1));
        assert_eq!(feasibility_min_samples(0.2, 0.5), Some(1));
    }

    #[test]
    fn drop_sample_size() {
        assert_eq!(samples_to_detect_drop(0.95, 0.85, 0.05, 0.8), 44);
        assert_eq!(samples_to_detect_drop(0.9, 0.9, 0.05, 0.8), u64::MAX);
        // Larger drops need fewer samples.
        assert!(
            samples_to_detect_drop(0.9, 0.6, 0.05, 0.8)
                < samples_to_detect_drop(0.9, 0.8, 0.05, 0.8)
        );
    }
}
