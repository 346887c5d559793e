//! Percentile-bootstrap confidence intervals (DESIGN §5: "a bootstrap confidence interval
//! of the median").
//!
//! Benchmark timings are skewed and heavy-tailed, so a normal-theory interval for the mean
//! is misleading; the bootstrap makes no shape assumption. Resample the rounds with
//! replacement `resamples` times, compute the statistic on each resample, and take the
//! `(1 - c) / 2` and `(1 + c) / 2` [`percentile`]s of those
//! values (Efron's percentile method).
//!
//! The resampling stream is ChaCha8 seeded from `seed`, so an interval is reproducible:
//! the same samples, confidence, resample count and seed give the same interval on every
//! platform and every run. 10,000 resamples is a good default; fewer makes the interval's
//! ends noisy.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::descriptive::percentile;
use crate::dist::normal_quantile;
use crate::{check_confidence, Interval};

/// Percentile-bootstrap interval of the median of `samples` at `confidence` (e.g. 0.95).
///
/// The median of each resample is NumPy's (the mean of the two middle values for even
/// sizes). Returns a NaN interval for empty `samples` or zero `resamples`.
///
/// # Panics
/// If `confidence` is not in (0, 1).
pub fn median_ci(samples: &[f64], confidence: f64, resamples: usize, seed: u64) -> Interval {
    if samples.len() > ORDER_STATISTICS_ABOVE {
        return median_order_statistics_ci(samples, confidence);
    }
    bootstrap_with(samples, median_in_place, confidence, resamples, seed)
}

/// Above this many samples [`median_ci`] takes the order-statistics interval: the bootstrap
/// costs resamples x samples (pytest-benchmark's fixture times a fast function in some 10^5
/// rounds, whose 2,000 resamples took ten times the measurement itself), and at such sizes the
/// percentile bootstrap of the median and the order-statistics interval agree.
pub const ORDER_STATISTICS_ABOVE: usize = 20_000;

/// The distribution-free interval of the median from order statistics: the count of samples
/// below the median is Binomial(n, 1/2), here by its normal approximation (n is large where
/// it is used); the interval runs from the j-th to the (n + 1 - j)-th smallest sample, with
/// j = floor(n/2 - z sqrt(n) / 2) (Hollander & Wolfe, Nonparametric Statistical Methods).
///
/// # Panics
/// If `confidence` is not in (0, 1).
pub fn median_order_statistics_ci(samples: &[f64], confidence: f64) -> Interval {
    check_confidence(confidence);
    let n = samples.len();
    if n == 0 {
        return Interval::new(f64::NAN, f64::NAN);
    }
    let z = normal_quantile(0.5 + confidence / 2.0);
    let half_width = z * (n as f64).sqrt() / 2.0;
    let j = ((n as f64 / 2.0 - half_width).floor() as usize).clamp(1, n);
    let mut v = samples.to_vec();
    let (_, &mut low, _) = v.select_nth_unstable_by(j - 1, f64::total_cmp);
    let (_, &mut high, _) = v.select_nth_unstable_by(n - j, f64::total_cmp);
    Interval::new(low, high)
}

/// Percentile-bootstrap interval of any `statistic` of `samples` (mean, a trimmed mean, the
/// 95th percentile, ...). `statistic` receives each resample, in no particular order.
///
/// Returns a NaN interval for empty `samples` or zero `resamples`.
///
/// # Panics
/// If `confidence` is not in (0, 1).
pub fn bootstrap_ci<F>(
    samples: &[f64],
    statistic: F,
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Interval
where
    F: Fn(&[f64]) -> f64,
{
    bootstrap_with(
        samples,
        |resample: &mut [f64]| statistic(resample),
        confidence,
        resamples,
        seed,
    )
}

fn bootstrap_with<F>(
    samples: &[f64],
    mut statistic: F,
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Interval
where
    F: FnMut(&mut [f64]) -> f64,
{
    check_confidence(confidence);
    let n = samples.len();
    if n == 0 || resamples == 0 {
        return Interval::new(f64::NAN, f64::NAN);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut buf = vec![0.0; n];
    let mut stats = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for slot in buf.iter_mut() {
            *slot = samples[rng.random_range(0..n)];
        }
        stats.push(statistic(&mut buf));
    }
    stats.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0 * 100.0;
    Interval::new(percentile(&stats, tail), percentile(&stats, 100.0 - tail))
}

/// Median by selection (O(n)), same value as `percentile(sorted, 50)`. Reorders `v`.
fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (left, &mut m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    if n % 2 == 1 {
        m
    } else {
        let below = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // NumPy's lerp at t = 0.5 interpolates from the upper end.
        m - (m - below) * 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptive::median;

    #[test]
    fn order_statistics_interval_of_the_median() {
        // 1..=10000: the interval's ends are the 4902nd and 5099th values, as SciPy's
        // binom.ppf(0.025, 10000, 0.5) = 4902 gives the lower rank (and symmetry the upper).
        let data: Vec<f64> = (1..=10_000).rev().map(f64::from).collect();
        let ci = median_order_statistics_ci(&data, 0.95);
        assert_eq!((ci.lo, ci.hi), (4902.0, 5099.0));
    }

    #[test]
    fn large_samples_take_the_order_statistics_interval_which_the_bootstrap_agrees_with() {
        let n = ORDER_STATISTICS_ABOVE + 1;
        let data: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 / 10.0 + (i % 13) as f64)
            .collect();
        let fast = median_ci(&data, 0.95, 2000, 7);
        assert_eq!(fast, median_order_statistics_ci(&data, 0.95));
        let boot = bootstrap_with(&data, median_in_place, 0.95, 400, 7);
        assert!(
            (fast.lo - boot.lo).abs() <= 0.2 && (fast.hi - boot.hi).abs() <= 0.2,
            "{fast:?} {boot:?}"
        );
    }

    #[test]
    fn median_in_place_matches_percentile() {
        let data = [5.0, 1.0, 4.0, 2.0, 3.0, 9.5, 0.25, 7.0];
        for len in 1..=data.len() {
            let mut v = data[..len].to_vec();
            assert_eq!(median_in_place(&mut v), median(&data[..len]), "len {len}");
        }
    }

    #[test]
    fn deterministic_for_a_seed_and_sensitive_to_it() {
        let data: Vec<f64> = (0..50).map(|i| f64::from(i * i % 17) + 0.5).collect();
        let a = median_ci(&data, 0.95, 2000, 7);
        let b = median_ci(&data, 0.95, 2000, 7);
        assert_eq!(a, b);
        let m = median(&data);
        assert!(a.lo <= m && m <= a.hi, "{a:?} should contain {m}");
        let generic = bootstrap_ci(&data, median, 0.95, 2000, 7);
        assert_eq!(a, generic, "median_ci is bootstrap_ci with the median");
        let other = bootstrap_ci(&data, crate::descriptive::mean, 0.95, 2000, 8);
        assert!(other.lo < other.hi);
    }

    #[test]
    fn wider_at_higher_confidence() {
        let data: Vec<f64> = (0..40).map(|i| f64::from(i % 13) * 1.5).collect();
        let narrow = median_ci(&data, 0.5, 4000, 1);
        let wide = median_ci(&data, 0.99, 4000, 1);
        assert!(wide.lo <= narrow.lo && narrow.hi <= wide.hi);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(median_ci(&[], 0.95, 100, 0).lo.is_nan());
        assert!(median_ci(&[1.0], 0.95, 0, 0).hi.is_nan());
        assert_eq!(median_ci(&[2.0; 5], 0.95, 100, 0), Interval::new(2.0, 2.0));
    }
}
