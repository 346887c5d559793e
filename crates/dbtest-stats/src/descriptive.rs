//! Descriptive statistics of a benchmark's rounds (DESIGN §5).
//!
//! [`Summary::from_samples`] gives every number a benchmark reports; [`tukey_outliers`]
//! counts the rounds a benchmark table flags as outliers; [`percentile`] is the one
//! percentile definition used throughout the crate (NumPy's default, `method="linear"`),
//! so numbers agree with what users get from `numpy.percentile` on the same rounds.
//!
//! Samples must be finite; NaN inputs give unspecified (but non-panicking) results.

use serde::{Deserialize, Serialize};

/// The percentile `p` (in `[0, 100]`) of already **sorted** data, by linear interpolation
/// between the closest ranks.
///
/// This is NumPy's default (`numpy.percentile(x, p, method="linear")`, R's type 7): the
/// value at the virtual index `h = (n - 1) * p / 100`, interpolated between `sorted[⌊h⌋]`
/// and `sorted[⌊h⌋ + 1]`. Use it for any quantile a report prints. Returns NaN for empty
/// data.
///
/// # Panics
/// If `p` is outside `[0, 100]` or NaN.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    assert!(
        (0.0..=100.0).contains(&p),
        "percentile must be in [0, 100], got {p}"
    );
    debug_assert!(
        sorted
            .windows(2)
            .all(|w| w[0] <= w[1] || w[0].is_nan() || w[1].is_nan()),
        "percentile() needs sorted data"
    );
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (p / 100.0) * (n - 1) as f64;
    let lo = h.floor();
    // `h <= n - 1`, so the truncation is exact and in range.
    let i = lo as usize;
    if i + 1 >= n {
        return sorted[n - 1];
    }
    lerp(sorted[i], sorted[i + 1], h - lo)
}

/// NumPy's `_lerp`: interpolate from whichever end is closer, so `t = 1` gives `b` exactly.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The median of unsorted data (the 50th [`percentile`]); NaN for empty data.
pub fn median(samples: &[f64]) -> f64 {
    percentile(&sorted_copy(samples), 50.0)
}

/// The arithmetic mean; NaN for empty data.
pub fn mean(samples: &[f64]) -> f64 {
    samples.iter().sum::<f64>() / samples.len() as f64
}

/// The sample standard deviation (divisor `n - 1`, NumPy's `std(ddof=1)`); NaN for fewer
/// than two samples.
pub fn stddev(samples: &[f64]) -> f64 {
    let n = samples.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = mean(samples);
    let ss: f64 = samples.iter().map(|x| (x - m) * (x - m)).sum();
    (ss / (n - 1) as f64).sqrt()
}

pub(crate) fn sorted_copy(samples: &[f64]) -> Vec<f64> {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Every summary number a benchmark reports for its rounds (DESIGN §5).
///
/// Quantiles use [`percentile`] (NumPy's `linear`). For an empty slice every field but `n`
/// is NaN; for a single sample `stddev` and `cv` are NaN (a spread needs two points).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// 50th percentile.
    pub median: f64,
    /// Sample standard deviation (divisor `n - 1`).
    pub stddev: f64,
    /// 25th percentile (first quartile).
    pub q1: f64,
    /// 75th percentile (third quartile).
    pub q3: f64,
    /// Interquartile range, `q3 - q1`.
    pub iqr: f64,
    /// 5th percentile.
    pub p5: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Coefficient of variation, `stddev / mean`: a unit-free measure of noise. A benchmark
    /// warns that it is unstable when this is high.
    pub cv: f64,
}

impl Summary {
    /// Summarise unsorted samples (e.g. the per-iteration time of each round).
    pub fn from_samples(samples: &[f64]) -> Summary {
        let sorted = sorted_copy(samples);
        Self::from_sorted(&sorted)
    }

    /// Summarise samples that are already sorted ascending (saves a copy and a sort).
    pub fn from_sorted(sorted: &[f64]) -> Summary {
        let n = sorted.len();
        if n == 0 {
            let nan = f64::NAN;
            return Summary {
                n,
                min: nan,
                max: nan,
                mean: nan,
                median: nan,
                stddev: nan,
                q1: nan,
                q3: nan,
                iqr: nan,
                p5: nan,
                p95: nan,
                p99: nan,
                cv: nan,
            };
        }
        let mean = mean(sorted);
        let stddev = stddev(sorted);
        let q1 = percentile(sorted, 25.0);
        let q3 = percentile(sorted, 75.0);
        Summary {
            n,
            min: sorted[0],
            max: sorted[n - 1],
            mean,
            median: percentile(sorted, 50.0),
            stddev,
            q1,
            q3,
            iqr: q3 - q1,
            p5: percentile(sorted, 5.0),
            p95: percentile(sorted, 95.0),
            p99: percentile(sorted, 99.0),
            cv: stddev / mean,
        }
    }
}

/// The four Tukey fences computed from the quartiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TukeyFences {
    /// `q1 - 3.0 * iqr`: below this a sample is a severe low outlier.
    pub low_severe: f64,
    /// `q1 - 1.5 * iqr`: below this (and not severe) a sample is a mild low outlier.
    pub low_mild: f64,
    /// `q3 + 1.5 * iqr`: above this (and not severe) a sample is a mild high outlier.
    pub high_mild: f64,
    /// `q3 + 3.0 * iqr`: above this a sample is a severe high outlier.
    pub high_severe: f64,
}

/// Counts of Tukey outliers, classified as criterion.rs does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Outliers {
    /// Samples `< q1 - 3 IQR`.
    pub low_severe: usize,
    /// Samples in `[q1 - 3 IQR, q1 - 1.5 IQR)`.
    pub low_mild: usize,
    /// Samples in `(q3 + 1.5 IQR, q3 + 3 IQR]`.
    pub high_mild: usize,
    /// Samples `> q3 + 3 IQR`.
    pub high_severe: usize,
    /// The fences the samples were compared with.
    pub fences: TukeyFences,
}

impl Outliers {
    /// All outliers, mild and severe.
    pub fn total(&self) -> usize {
        self.low_severe + self.low_mild + self.high_mild + self.high_severe
    }
}

/// Classify samples against Tukey's fences (1.5 and 3.0 IQR beyond the quartiles), with
/// criterion.rs's definition: strict inequalities, severe taking precedence over mild.
///
/// Use it to tell a reader how many rounds were disturbed (GC pauses, a noisy neighbour);
/// the samples are counted, not removed. Quartiles are [`percentile`]s 25 and 75. With no
/// samples every count is 0 and the fences are NaN.
pub fn tukey_outliers(samples: &[f64]) -> Outliers {
    let sorted = sorted_copy(samples);
    let q1 = percentile(&sorted, 25.0);
    let q3 = percentile(&sorted, 75.0);
    let iqr = q3 - q1;
    let fences = TukeyFences {
        low_severe: q1 - 3.0 * iqr,
        low_mild: q1 - 1.5 * iqr,
        high_mild: q3 + 1.5 * iqr,
        high_severe: q3 + 3.0 * iqr,
    };
    let mut out = Outliers {
        low_severe: 0,
        low_mild: 0,
        high_mild: 0,
        high_severe: 0,
        fences,
    };
    for &x in samples {
        if x < fences.low_severe {
            out.low_severe += 1;
        } else if x < fences.low_mild {
            out.low_mild += 1;
        } else if x > fences.high_severe {
            out.high_severe += 1;
        } else if x > fences.high_mild {
            out.high_mild += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_endpoints_and_midpoints() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&s, 0.0), 1.0);
        assert_eq!(percentile(&s, 100.0), 4.0);
        assert_eq!(percentile(&s, 50.0), 2.5);
        assert_eq!(percentile(&[7.0], 33.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    #[should_panic(expected = "percentile must be in [0, 100]")]
    fn percentile_rejects_fractions_above_100() {
        percentile(&[1.0], 101.0);
    }

    #[test]
    fn summary_of_empty_and_single() {
        let e = Summary::from_samples(&[]);
        assert_eq!(e.n, 0);
        assert!(e.mean.is_nan() && e.median.is_nan());
        let one = Summary::from_samples(&[3.0]);
        assert_eq!(
            (one.min, one.max, one.median, one.iqr),
            (3.0, 3.0, 3.0, 0.0)
        );
        assert!(one.stddev.is_nan());
    }

    #[test]
    fn tukey_classification() {
        // Sorted: -20, -10, 1..=10, 20, 30. q1 = 2.25, q3 = 8.75, iqr = 6.5:
        // fences -17.25, -7.5, 18.5, 28.25.
        let mut v: Vec<f64> = (1..=10).map(f64::from).collect();
        v.extend([-20.0, -10.0, 20.0, 30.0]);
        let o = tukey_outliers(&v);
        assert_eq!(
            o.fences,
            TukeyFences {
                low_severe: -17.25,
                low_mild: -7.5,
                high_mild: 18.5,
                high_severe: 28.25
            }
        );
        assert_eq!(
            (o.low_severe, o.low_mild, o.high_mild, o.high_severe),
            (1, 1, 1, 1)
        );
        assert_eq!(o.total(), 4);
        // A sample exactly on a fence is not an outlier.
        let on_fence = tukey_outliers(&[0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(on_fence.total(), 0);
    }
}
