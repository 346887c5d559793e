//! The Mann-Whitney U rank test (DESIGN §5: `dbtest bench --compare` tests each benchmark
//! against a saved run with "a rank test plus a noise threshold").
//!
//! Timings are not normal (skewed, with outliers), so a t-test is the wrong tool; the
//! Mann-Whitney U test only asks whether one sample tends to be larger than the other.
//! The test is a faithful port of `scipy.stats.mannwhitneyu` (SciPy ≥ 1.7) with its
//! default `use_continuity=True`: the same statistic (U of the first sample), the same
//! p-values, and the same automatic choice between the exact null distribution and the
//! normal approximation.
//!
//! Use [`Alternative::Greater`] with `x` = the new timings and `y` = the saved ones to ask
//! "did it get slower?".

use serde::{Deserialize, Serialize};

use crate::dist::normal_sf;

/// Which difference the test looks for, in SciPy's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alternative {
    /// The distributions of `x` and `y` differ (either direction).
    TwoSided,
    /// `x` is stochastically smaller than `y`.
    Less,
    /// `x` is stochastically greater than `y` (for timings: `x` is slower).
    Greater,
}

/// How the p-value is computed; [`MwuMethod::Auto`] chooses as SciPy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MwuMethod {
    /// SciPy's `method="auto"`: exact when either sample has at most 8 values and there
    /// are no ties, the normal approximation otherwise.
    Auto,
    /// The exact null distribution of U. Like SciPy it assumes no ties: with ties the
    /// statistic is truncated to an integer and the p-value is only approximate. Cost grows
    /// as `(n1 * n2)^2`, fine up to a few dozen values each.
    Exact,
    /// The normal approximation with tie correction and continuity correction.
    Asymptotic,
}

/// The method that produced a p-value (what [`MwuMethod::Auto`] resolved to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PValueMethod {
    /// From the exact null distribution of U.
    Exact,
    /// From the normal approximation.
    Asymptotic,
}

/// The outcome of a Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitneyU {
    /// `U1`, the statistic of the first sample: the number of pairs `(x_i, y_j)` with
    /// `x_i > y_j`, ties counting one half. SciPy's `statistic`, whatever the alternative.
    pub statistic: f64,
    /// The p-value for the requested alternative, in `[0, 1]`.
    pub p_value: f64,
    /// How the p-value was computed.
    pub method: PValueMethod,
    /// Size of `x`.
    pub n1: usize,
    /// Size of `y`.
    pub n2: usize,
}

impl MannWhitneyU {
    /// `U1 / (n1 * n2)`: the probability that a random value of `x` exceeds a random value
    /// of `y` (ties counting half), the "common-language effect size". 0.5 means no
    /// tendency either way; for timings, 0.9 means the new run is slower in 90% of pairs.
    pub fn probability_of_superiority(&self) -> f64 {
        self.statistic / (self.n1 as f64 * self.n2 as f64)
    }
}

/// Run the Mann-Whitney U test on `x` and `y` (continuity correction on, as SciPy's
/// default). Matches `scipy.stats.mannwhitneyu(x, y, alternative=..., method=...)`.
///
/// If either sample is empty, the statistic and p-value are NaN (as in SciPy).
pub fn mann_whitney_u(
    x: &[f64],
    y: &[f64],
    alternative: Alternative,
    method: MwuMethod,
) -> MannWhitneyU {
    let (n1, n2) = (x.len(), y.len());
    let resolved_if_empty = match method {
        MwuMethod::Exact => PValueMethod::Exact,
        _ => PValueMethod::Asymptotic,
    };
    if n1 == 0 || n2 == 0 {
        return MannWhitneyU {
            statistic: f64::NAN,
            p_value: f64::NAN,
            method: resolved_if_empty,
            n1,
            n2,
        };
    }

    let (ranks, tie_term, has_ties) = rank_with_ties(x, y);
    let r1: f64 = ranks[..n1].iter().sum();
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = r1 - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let (u, factor) = match alternative {
        Alternative::Greater => (u1, 1.0),
        // By symmetry, P(U1 <= u1) = P(U2 >= u2).
        Alternative::Less => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    };

    let resolved = match method {
        MwuMethod::Exact => PValueMethod::Exact,
        MwuMethod::Asymptotic => PValueMethod::Asymptotic,
        MwuMethod::Auto => {
            if (n1 > 8 && n2 > 8) || has_ties {
                PValueMethod::Asymptotic
            } else {
                PValueMethod::Exact
            }
        }
    };

    let p = match resolved {
        // SciPy casts U to an integer here (it is one unless there are ties).
        PValueMethod::Exact => exact_sf(n1, n2, u.trunc() as usize),
        PValueMethod::Asymptotic => {
            let n = n1f + n2f;
            let mu = n1f * n2f / 2.0;
            let s = (n1f * n2f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
            // SF is always used, so subtracting 0.5 always moves towards the centre.
            let z = (u - mu - 0.5) / s;
            // All values tied: s = 0 and z = -inf, so p = 1 (as in SciPy).
            normal_sf(if z.is_nan() { f64::NEG_INFINITY } else { z })
        }
    };

    MannWhitneyU {
        statistic: u1,
        p_value: (p * factor).clamp(0.0, 1.0),
        method: resolved,
        n1,
        n2,
    }
}

/// Average ranks (1-based) of the concatenation `x ++ y`, the tie term `Σ (t³ - t)` over
/// groups of tied values, and whether any tie exists.
fn rank_with_ties(x: &[f64], y: &[f64]) -> (Vec<f64>, f64, bool) {
    let all: Vec<f64> = x.iter().chain(y).copied().collect();
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by(|&a, &b| all[a].total_cmp(&all[b]));
    let mut ranks = vec![0.0; all.len()];
    let mut tie_term = 0.0;
    let mut has_ties = false;
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && all[order[j]] == all[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) share the average of ranks i+1..=j.
        let avg = (i + 1 + j) as f64 / 2.0;
        for &idx in &order[i..j] {
            ranks[idx] = avg;
        }
        let t = (j - i) as f64;
        if j - i > 1 {
            has_ties = true;
            tie_term += t * t * t - t;
        }
        i = j;
    }
    (ranks, tie_term, has_ties)
}

/// `P(U >= k)` under the null hypothesis for samples of sizes `n1` and `n2` without ties.
fn exact_sf(n1: usize, n2: usize, k: usize) -> f64 {
    let pmf = exact_pmf(n1, n2);
    let max = n1 * n2;
    if k > max {
        return 0.0;
    }
    // The distribution is symmetric: sum the shorter tail, P(U >= k) = P(U <= max - k).
    if k >= max - k {
        pmf[..=max - k].iter().sum()
    } else {
        pmf[k..].iter().sum()
    }
}

/// The null distribution of U for sizes `m` and `n`: `pmf[u] = P(U = u)`, `u = 0..=m*n`.
///
/// Recurrence on the largest of the `m + n` values: it belongs to the first sample with
/// probability `m / (m + n)` (and then beats all `n` values of the second sample), else to
/// the second. All terms are positive, so no precision is lost to cancellation.
fn exact_pmf(m: usize, n: usize) -> Vec<f64> {
    let (m, n) = (m.min(n), m.max(n));
    // prev[j] = distribution for sizes (i - 1, j); start with i = 0: U = 0 surely.
    let mut prev: Vec<Vec<f64>> = vec![vec![1.0]; n + 1];
    for i in 1..=m {
        let mut cur: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
        cur.push(vec![1.0]);
        for j in 1..=n {
            let total = (i + j) as f64;
            let (a, b) = (i as f64 / total, j as f64 / total);
            let mut dist = vec![0.0; i * j + 1];
            // Largest value from the first sample: U = u - j from sizes (i - 1, j).
            for (u, &p) in prev[j].iter().enumerate() {
                dist[u + j] += a * p;
            }
            // Largest value from the second sample: U unchanged, sizes (i, j - 1).
            for (u, &p) in cur[j - 1].iter().enumerate() {
                dist[u] += b * p;
            }
            cur.push(dist);
        }
        prev = cur;
    }
    prev.pop().expect("n + 1 >= 1 rows")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_pmf_sums_to_one_and_is_symmetric() {
        for (m, n) in [(1, 1), (2, 3), (4, 4), (5, 9), (8, 20)] {
            let pmf = exact_pmf(m, n);
            assert_eq!(pmf.len(), m * n + 1);
            let total: f64 = pmf.iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "({m},{n}) sums to {total}");
            for u in 0..pmf.len() {
                let d = (pmf[u] - pmf[m * n - u]).abs();
                assert!(d < 1e-15, "({m},{n}) asymmetric at {u}");
            }
        }
        // Sizes 2 and 2: U in 0..=4 with counts 1,1,2,1,1 out of C(4,2) = 6.
        let p = exact_pmf(2, 2);
        let expect = [1.0, 1.0, 2.0, 1.0, 1.0].map(|c| c / 6.0);
        for (a, b) in p.iter().zip(expect) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn ranks_average_ties() {
        let (r, tie_term, ties) = rank_with_ties(&[1.0, 2.0, 2.0], &[3.0, 2.0]);
        assert_eq!(r, vec![1.0, 3.0, 3.0, 5.0, 3.0]);
        assert_eq!(tie_term, 24.0);
        assert!(ties);
    }

    #[test]
    fn empty_and_all_tied() {
        let r = mann_whitney_u(&[], &[1.0], Alternative::TwoSided, MwuMethod::Auto);
        assert!(r.statistic.is_nan() && r.p_value.is_nan());
        let r = mann_whitney_u(
            &[1.0; 10],
            &[1.0; 10],
            Alternative::TwoSided,
            MwuMethod::Auto,
        );
        assert_eq!((r.statistic, r.p_value), (50.0, 1.0));
        assert_eq!(r.probability_of_superiority(), 0.5);
    }

    #[test]
    fn slower_run_is_detected_with_greater() {
        let old: Vec<f64> = (0..20).map(|i| 10.0 + f64::from(i % 5) * 0.1).collect();
        let new: Vec<f64> = old.iter().map(|t| t * 1.2).collect();
        let r = mann_whitney_u(&new, &old, Alternative::Greater, MwuMethod::Auto);
        assert!(r.p_value < 1e-6, "{r:?}");
        let r = mann_whitney_u(&new, &old, Alternative::Less, MwuMethod::Auto);
        assert!(r.p_value > 0.99, "{r:?}");
    }
}
