//! Pass rates of clustered binary outcomes: several samples of one dataset row are not
//! independent trials (DESIGN §6, §8).
//!
//! With a dataset of `R` rows, sample `i` uses row `i mod R`; once the samples outnumber the
//! rows, each row is run several times, and those runs tend to agree (an input the model gets
//! wrong, it often gets wrong again). Counting them as independent trials makes an interval
//! too narrow. Here each row is a *cluster*, and the question is the pass rate over inputs
//! like the dataset's rows.
//!
//! * [`ClusteredRate::from_clusters`] — the rate, the cluster-robust (sandwich) variance and
//!   Kish's design effect, from each cluster's successes and trials.
//! * [`ClusteredRate::wald_interval`] — `p ± z·√V`, the interval of statsmodels'
//!   `OLS(y, ones).fit(cov_type="cluster")`. Given for reference: like every Wald interval it
//!   collapses to a point at `p = 0` or `1` and can leave [0, 1].
//! * [`ClusteredRate::wilson_interval`] — Wilson's interval with the effective sample size
//!   `n / deff`. **This is the one dbtest reports**: it keeps Wilson's good behaviour near 0
//!   and 1 (the rates dbtest's experiments live at), it is the interval every other pass
//!   rate in dbtest already uses, and with one sample per row it *is* that interval
//!   ([`crate::proportion::wilson_interval`]), to the last bit.
//!
//! The effective-sample-size rules follow the NCHS data presentation standards for
//! proportions (Parker et al., *Vital Health Stat* 2(175), 2017, after Korn & Graubard,
//! *Survey Methodology* 24, 1998): `n_eff = n / deff`, never above `n`, and `n_eff = n` when
//! the design effect cannot be estimated.

use crate::dist::normal_isf;
use crate::proportion::wilson_from_rate;
use crate::{check_confidence, Interval};
use serde::{Deserialize, Serialize};

/// A pass rate over clusters, with its cluster-robust variance and design effect.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusteredRate {
    /// Successes over all clusters.
    pub successes: u64,
    /// Trials over all clusters.
    pub trials: u64,
    /// Clusters with at least one trial (a cluster without trials tells nothing).
    pub clusters: u64,
    /// `successes / trials`; NaN without a trial.
    pub rate: f64,
    /// The cluster-robust variance of `rate`, with statsmodels' small-sample correction:
    ///
    /// `V = G/(G-1) · Σ_g (s_g - n_g·p)² / n²`
    ///
    /// for `G` clusters of `n_g` trials and `s_g` successes (the sandwich `(X'X)⁻¹ B (X'X)⁻¹`
    /// of a regression of `y` on a constant, with `B = Σ_g u_g²`, `u_g = s_g - n_g·p`; the
    /// factor `G/(G-1)·(n-1)/(n-k)` reduces to `G/(G-1)` for `k = 1` parameter). Equals
    /// `OLS(y, ones).fit(cov_type="cluster", cov_kwds={"groups": g}).bse[0]**2` (Cameron &
    /// Miller, *J. Human Resources* 50(2), 2015, §II.C and §VI.A). NaN when `G < 2` or
    /// without a trial.
    pub variance: f64,
    /// Kish's design effect `deff = n / n_eff`: how many times the variance of `rate`
    /// exceeds that of independent trials.
    pub design_effect: f64,
    /// The number of independent trials the clustered ones are worth: the `n_eff` whose
    /// variance under the same estimator, `p(1-p)/(n_eff - 1)` (what `V` is when every trial
    /// is its own cluster), equals `V`:
    ///
    /// `n_eff = 1 + p(1-p)/V`, at most `n`; and exactly `n` when every cluster has one trial,
    /// when `p` is 0 or 1, or when there is a single cluster.
    ///
    /// So one trial per cluster gives `n_eff = n`, and `G` equal clusters whose trials
    /// always agree give `n_eff = G`. It is capped at `n` because rows that disagree with
    /// themselves more than chance would otherwise be worth more than `n` independent trials
    /// (`deff < 1`), a precision no sample of `n` gives; at `p = 0` or `1` every cluster agrees and
    /// the correlation cannot be estimated; a single cluster has no between-cluster variance
    /// to estimate, and the interval is then that one row's (NCHS rules, see the module).
    pub effective_trials: f64,
}

impl ClusteredRate {
    /// The rate of clustered trials, from each cluster's `(successes, trials)`. Clusters
    /// with no trials are skipped.
    ///
    /// # Panics
    /// If a cluster has more successes than trials.
    pub fn from_clusters(clusters: &[(u64, u64)]) -> Self {
        for &(s, n) in clusters {
            assert!(s <= n, "successes ({s}) must not exceed trials ({n})");
        }
        let used = || clusters.iter().filter(|(_, n)| *n > 0);
        let successes: u64 = used().map(|(s, _)| s).sum();
        let trials: u64 = used().map(|(_, n)| n).sum();
        let g = used().count() as u64;
        let n = trials as f64;
        let p = if trials == 0 {
            f64::NAN
        } else {
            successes as f64 / n
        };
        let variance = if g < 2 {
            f64::NAN
        } else {
            let b: f64 = used()
                .map(|&(s, m)| (s as f64 - m as f64 * p).powi(2))
                .sum();
            g as f64 / (g as f64 - 1.0) * b / (n * n)
        };
        let singletons = used().all(|&(_, m)| m == 1);
        let effective_trials = if singletons || g < 2 || successes == 0 || successes == trials {
            n
        } else {
            (1.0 + p * (1.0 - p) / variance).min(n)
        };
        ClusteredRate {
            successes,
            trials,
            clusters: g,
            rate: p,
            variance,
            design_effect: if trials == 0 {
                1.0
            } else {
                n / effective_trials
            },
            effective_trials,
        }
    }

    /// The cluster-robust Wald interval `p ± z·√V`, `z` the normal critical value, clipped
    /// to [0, 1]; `[0, 1]` when `V` is undefined (fewer than two clusters).
    ///
    /// Before clipping it equals `OLS(y, ones).fit(cov_type="cluster", cov_kwds={"groups":
    /// g}).conf_int(alpha=1-confidence)` (statsmodels uses the normal, not t, quantile for
    /// a robust covariance unless `use_t=True`). Degenerate at `p = 0` or `1` (`V = 0`): use
    /// [`Self::wilson_interval`] to report a rate.
    ///
    /// # Panics
    /// If `confidence` is not in (0, 1).
    pub fn wald_interval(&self, confidence: f64) -> Interval {
        check_confidence(confidence);
        if self.variance.is_nan() {
            return Interval::new(0.0, 1.0);
        }
        let half = normal_isf((1.0 - confidence) / 2.0) * self.variance.sqrt();
        Interval::new(
            (self.rate - half).clamp(0.0, 1.0),
            (self.rate + half).clamp(0.0, 1.0),
        )
    }

    /// Wilson's score interval for `rate` with `n_eff = n / deff` trials (Kish 1965, *Survey
    /// Sampling* §8.2; NCHS 2017 for the effective sample size in an interval):
    ///
    /// `(p + z²/2n_eff ± z·√(p(1-p)/n_eff + z²/4n_eff²)) / (1 + z²/n_eff)`.
    ///
    /// `[0, 1]` without a trial. With one trial per cluster it equals
    /// [`crate::proportion::wilson_interval`]`(successes, trials, confidence)` exactly.
    ///
    /// # Panics
    /// If `confidence` is not in (0, 1).
    pub fn wilson_interval(&self, confidence: f64) -> Interval {
        check_confidence(confidence);
        if self.trials == 0 {
            return Interval::new(0.0, 1.0);
        }
        let z = normal_isf((1.0 - confidence) / 2.0);
        wilson_from_rate(self.rate, self.effective_trials, z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proportion::wilson_interval;

    #[test]
    fn one_trial_per_cluster_is_the_ordinary_wilson_interval() {
        for (k, n) in [(0u64, 10u64), (3, 10), (10, 10), (57, 80), (1, 1)] {
            let clusters: Vec<(u64, u64)> = (0..n).map(|i| (u64::from(i < k), 1)).collect();
            let c = ClusteredRate::from_clusters(&clusters);
            assert_eq!(c.design_effect, 1.0);
            assert_eq!(c.effective_trials, n as f64);
            assert_eq!(
                c.wilson_interval(0.95),
                wilson_interval(k, n, 0.95),
                "{k}/{n}"
            );
        }
    }

    #[test]
    fn empty_clusters_are_skipped() {
        let a = ClusteredRate::from_clusters(&[(2, 3), (0, 0), (1, 3)]);
        let b = ClusteredRate::from_clusters(&[(2, 3), (1, 3)]);
        assert_eq!(a, b);
        assert_eq!(a.clusters, 2);
    }

    #[test]
    fn no_trials_is_uninformative() {
        let c = ClusteredRate::from_clusters(&[(0, 0)]);
        assert!(c.rate.is_nan());
        assert_eq!(c.wilson_interval(0.95), Interval::new(0.0, 1.0));
        assert_eq!(c.wald_interval(0.95), Interval::new(0.0, 1.0));
    }

    #[test]
    fn rows_that_always_agree_count_once() {
        // 4 rows x 5 runs, each row all-pass or all-fail: worth 4 trials, not 20.
        let c = ClusteredRate::from_clusters(&[(5, 5), (0, 5), (5, 5), (0, 5)]);
        assert!((c.effective_trials - 4.0).abs() < 1e-12);
        assert!((c.design_effect - 5.0).abs() < 1e-12);
    }
}
