//! Paired binary outcomes: two configurations run on the same inputs (DESIGN §6, §8).
//!
//! When two configurations are run on the same dataset rows, what tells them apart is the
//! *discordant* pairs: `b` where the first passed and the second failed, `c` the reverse.
//! Pairs where both agree say nothing about which is better.
//!
//! * [`mcnemar_exact`] — McNemar's test, exact: under "no difference" each discordant pair
//!   is `b` or `c` with probability ½, so `b ~ Binomial(b + c, ½)`. statsmodels
//!   `mcnemar(table, exact=True)`.
//! * [`mcnemar_chi2`] — the large-sample version, `(|b - c| - 1)²/(b + c)` against χ²(1).
//!   statsmodels `mcnemar(table, exact=False, correction=True)`. Given for reference: the
//!   exact p-value costs next to nothing at any count, is never anti-conservative, and does
//!   not jump where a "use the χ² above 25 pairs" rule would switch; dbtest uses the exact
//!   test always.
//! * [`clustered_mcnemar`] — McNemar's test when several pairs share one row (a dataset
//!   smaller than the sample count): the exact sign-flip randomization test on each row's
//!   `b_g - c_g`. With one pair per row it *is* [`mcnemar_exact`].

use crate::dist::normal_sf;
use serde::{Deserialize, Serialize};

/// `P(X <= k)` for `X ~ Binomial(m, ½)`, `k <= m`.
///
/// The largest term `C(m, k)/2^m` from `lgamma` (musl's, < 1 ulp), the others by the
/// recurrence `t(i-1) = t(i)·i/(m-i+1)`; for `k <= m/2` the terms shrink as `i` falls, so
/// the sum is accurate to a few ulps times the error of the first term.
fn binomial_half_cdf(k: u64, m: u64) -> f64 {
    debug_assert!(k <= m);
    if k == m {
        return 1.0;
    }
    if 2 * k > m {
        // Sum the short, shrinking tail instead: P(X <= k) = 1 - P(X <= m-k-1) by symmetry.
        return 1.0 - binomial_half_cdf(m - k - 1, m);
    }
    let (kf, mf) = (k as f64, m as f64);
    let ln_top = libm::lgamma(mf + 1.0)
        - libm::lgamma(kf + 1.0)
        - libm::lgamma(mf - kf + 1.0)
        - mf * std::f64::consts::LN_2;
    let mut term = ln_top.exp();
    let mut sum = term;
    for i in (1..=k).rev() {
        term *= i as f64 / (m - i + 1) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum.min(1.0)
}

/// McNemar's exact test: the two-sided p-value `min(1, 2·P(X <= min(b, c)))` for
/// `X ~ Binomial(b + c, ½)`, from the discordant pair counts `b` and `c` (McNemar 1947,
/// *Psychometrika* 12; Agresti, *Categorical Data Analysis*, 3rd ed., §11.1.1).
///
/// 1 when `b + c = 0` (nothing to tell the two apart). Equals
/// `statsmodels.stats.contingency_tables.mcnemar([[a, b], [c, d]], exact=True).pvalue`.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    (2.0 * binomial_half_cdf(b.min(c), b + c)).min(1.0)
}

/// The χ² statistic and p-value of McNemar's test: `X² = (|b - c| - k)²/(b + c)` against
/// χ² with 1 degree of freedom, `k = 1` with Edwards' continuity correction (`correction`),
/// else 0.
///
/// Equals `mcnemar([[a, b], [c, d]], exact=False, correction=...)`, including its
/// convention that `b = c` with the correction gives `X² = 1/(b + c)` (as R's
/// `mcnemar.test`), not 0. `(NaN, NaN)` when `b + c = 0`.
pub fn mcnemar_chi2(b: u64, c: u64, correction: bool) -> (f64, f64) {
    let diff = (b as f64 - c as f64).abs() - if correction { 1.0 } else { 0.0 };
    let stat = diff * diff / (b + c) as f64;
    (stat, chi2_1_sf(stat))
}

/// `P(χ²(1) > x) = P(|Z| > √x) = 2·P(Z > √x)`.
fn chi2_1_sf(x: f64) -> f64 {
    2.0 * normal_sf(x.sqrt())
}

/// How [`clustered_mcnemar`] computed its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairedMethod {
    /// Every row's difference was -1, 0 or 1: the exact binomial test ([`mcnemar_exact`]
    /// on the rows' signs), which is the sign-flip test's distribution in that case.
    ExactBinomial,
    /// The exact sign-flip distribution, enumerated.
    SignFlipExact,
    /// Too many rows and pairs to enumerate: the normal approximation of the same statistic
    /// (Durkalski et al. 2003).
    SignFlipNormal,
}

/// The result of [`clustered_mcnemar`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedTest {
    /// `Σ_g (b_g - c_g)`: `b - c` over all pairs.
    pub statistic: i64,
    /// Two-sided.
    pub p_value: f64,
    pub method: PairedMethod,
}

/// Above this many steps (rows × support of the sum) the sign-flip distribution is not
/// enumerated but approximated: ~0.1 s of work, reached only past thousands of discordant
/// pairs, where the approximation is already excellent.
const ENUMERATION_LIMIT: u64 = 50_000_000;

/// McNemar's test for pairs clustered in rows: the exact sign-flip (randomization) test of
/// `T = Σ_g D_g`, `D_g = b_g - c_g` the difference of discordant pairs in row `g`.
///
/// Null hypothesis: within each row the two configurations are exchangeable, so each `D_g`
/// is as likely as `-D_g`, independently across rows. Conditional on the `|D_g|`, the
/// p-value is `P(|Σ_g ε_g·|D_g|| >= |T|)` over independent fair signs `ε_g` (Fisher 1935,
/// *The Design of Experiments* §21; Pitman 1937, *JRSS Suppl.* 4): exact whatever the number
/// of rows, and honest about clustering, because a row's pairs flip together. It is the
/// randomization version of the clustered McNemar statistic `T²/Σ_g D_g²` of Durkalski,
/// Palesch, Lipsitz & Rust (*Statistics in Medicine* 22, 2003), which is used as its
/// normal approximation when the distribution is too large to enumerate (see
/// [`PairedMethod`]).
///
/// With one pair per row, `D_g ∈ {-1, 0, 1}` and the sign-flip distribution is
/// `Binomial(b + c, ½)`: the test is exactly [`mcnemar_exact`]`(b, c)`. Rows with `D_g = 0`
/// (no discordance, or as many each way) carry no information and drop out. 1 when every
/// `D_g` is 0.
///
/// Equals `scipy.stats.permutation_test((d,), np.sum, permutation_type="samples",
/// n_resamples=np.inf, alternative="two-sided").pvalue`, which flips the signs of a single
/// sample's observations (for a symmetric null, SciPy's "twice the smaller tail" is
/// `P(|T| >= |t|)`).
pub fn clustered_mcnemar(row_differences: &[i64]) -> PairedTest {
    let statistic: i64 = row_differences.iter().sum();
    let sizes: Vec<u64> = row_differences
        .iter()
        .map(|d| d.unsigned_abs())
        .filter(|&v| v > 0)
        .collect();
    let t = statistic.unsigned_abs();
    if sizes.iter().all(|&v| v == 1) {
        let plus = row_differences.iter().filter(|&&d| d > 0).count() as u64;
        let minus = sizes.len() as u64 - plus;
        return PairedTest {
            statistic,
            p_value: mcnemar_exact(plus, minus),
            method: PairedMethod::ExactBinomial,
        };
    }
    let support: u64 = sizes.iter().sum();
    if (sizes.len() as u64).saturating_mul(2 * support + 1) > ENUMERATION_LIMIT {
        let var: f64 = sizes.iter().map(|&v| (v as f64).powi(2)).sum();
        return PairedTest {
            statistic,
            p_value: (2.0 * normal_sf(t as f64 / var.sqrt())).min(1.0),
            method: PairedMethod::SignFlipNormal,
        };
    }
    let p_value = if t == 0 {
        1.0
    } else {
        // By symmetry P(|T| >= t) = 2·P(T >= t) for t > 0.
        (2.0 * sign_flip_upper_tail(&sizes, support, t)).min(1.0)
    };
    PairedTest {
        statistic,
        p_value,
        method: PairedMethod::SignFlipExact,
    }
}

/// `P(Σ ε_g·v_g >= t)` for independent fair signs, by convolving one row at a time over the
/// integer sums `-support..=support` (index `s + support`).
fn sign_flip_upper_tail(sizes: &[u64], support: u64, t: u64) -> f64 {
    let mid = support as usize;
    let mut dist = vec![0.0f64; 2 * mid + 1];
    dist[mid] = 1.0;
    let mut next = dist.clone();
    let mut reach = 0usize;
    for &v in sizes {
        let v = v as usize;
        let new_reach = reach + v;
        next[mid - new_reach..=mid + new_reach].fill(0.0);
        for i in mid - reach..=mid + reach {
            let half = 0.5 * dist[i];
            next[i - v] += half;
            next[i + v] += half;
        }
        std::mem::swap(&mut dist, &mut next);
        reach = new_reach;
    }
    // Summed from the far tail inwards, smallest terms first.
    dist[mid + t as usize..].iter().rev().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_discordance_is_no_evidence() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(4, 4), 1.0);
        let t = clustered_mcnemar(&[0, 0, 2, -2]);
        assert_eq!((t.statistic, t.p_value), (0, 1.0));
        assert_eq!(clustered_mcnemar(&[]).p_value, 1.0);
    }

    #[test]
    fn exact_small_cases_by_hand() {
        // b = 0, c = 5: 2 · 2⁻⁵.
        assert_eq!(mcnemar_exact(0, 5), 0.0625);
        assert_eq!(mcnemar_exact(5, 0), 0.0625);
        // b = 1, c = 4: 2 · (1 + 5)/32 (the lgamma-based first term is off by an ulp).
        assert!((mcnemar_exact(1, 4) - 0.375).abs() < 1e-15);
    }

    #[test]
    fn one_pair_per_row_is_mcnemar_exact() {
        let rows: Vec<i64> = [1i64; 3]
            .into_iter()
            .chain([-1; 11])
            .chain([0; 7])
            .collect();
        let t = clustered_mcnemar(&rows);
        assert_eq!(t.method, PairedMethod::ExactBinomial);
        assert_eq!(t.p_value, mcnemar_exact(3, 11));
        assert_eq!(t.statistic, -8);
    }

    #[test]
    fn enumeration_agrees_with_brute_force() {
        let rows = [3i64, -1, 2, 2, 0, -4, 1, 5, 2];
        let t = clustered_mcnemar(&rows);
        assert_eq!(t.method, PairedMethod::SignFlipExact);
        let nz: Vec<i64> = rows.iter().copied().filter(|&d| d != 0).collect();
        let obs = t.statistic.abs();
        let hits = (0u32..1 << nz.len())
            .filter(|mask| {
                let s: i64 = nz
                    .iter()
                    .enumerate()
                    .map(|(i, d)| if mask >> i & 1 == 1 { -d } else { *d })
                    .sum();
                s.abs() >= obs
            })
            .count();
        let brute = hits as f64 / f64::from(1u32 << nz.len());
        assert!(
            (t.p_value - brute).abs() < 1e-15,
            "{} vs {brute}",
            t.p_value
        );
    }

    #[test]
    fn normal_approximation_for_huge_inputs() {
        // 20,000 rows each 3 more passes one way: far beyond the enumeration limit.
        let rows = vec![3i64; 20_000];
        let t = clustered_mcnemar(&rows);
        assert_eq!(t.method, PairedMethod::SignFlipNormal);
        assert_eq!(t.p_value, 0.0);
    }
}
