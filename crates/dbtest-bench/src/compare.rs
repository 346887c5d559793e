//! A run against a saved one: a rank test on the rounds plus a noise threshold, so that a
//! verdict needs both a significant and a material change.

use dbtest_stats::ranktest::{mann_whitney_u, Alternative, MwuMethod};
use serde::{Deserialize, Serialize};

use crate::model::{BenchReport, BenchResult};

/// Changes of the median smaller than this are noise, however significant.
pub const NOISE_THRESHOLD_PCT: f64 = 2.0;
/// The rank test's significance level.
pub const ALPHA: f64 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Faster,
    Slower,
    NoChange,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub id: String,
    pub group: String,
    pub label: String,
    pub old_median_s: f64,
    pub new_median_s: f64,
    /// `(new - old) / old` in percent: positive is slower.
    pub change_pct: f64,
    pub p_value: f64,
    pub verdict: Verdict,
    /// Slower beyond `--fail-on-regression`.
    pub regression: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompareOutcome {
    pub comparisons: Vec<Comparison>,
    /// Benchmarks of this run that the saved run does not have.
    pub new_only: Vec<String>,
}

impl CompareOutcome {
    pub fn regressions(&self) -> usize {
        self.comparisons.iter().filter(|c| c.regression).count()
    }
}

fn compare_one(old: &BenchResult, new: &BenchResult, fail_pct: Option<f64>) -> Option<Comparison> {
    let (o, n) = (old.stats.as_ref()?, new.stats.as_ref()?);
    let (old_median, new_median) = (o.summary.median, n.summary.median);
    let change_pct = (new_median - old_median) / old_median * 100.0;
    let p_value = mann_whitney_u(
        &new.rounds,
        &old.rounds,
        Alternative::TwoSided,
        MwuMethod::Auto,
    )
    .p_value;
    let verdict = if p_value < ALPHA && change_pct.abs() > NOISE_THRESHOLD_PCT {
        if change_pct > 0.0 {
            Verdict::Slower
        } else {
            Verdict::Faster
        }
    } else {
        Verdict::NoChange
    };
    Some(Comparison {
        id: new.id(),
        group: new.group.clone(),
        label: new.label(),
        old_median_s: old_median,
        new_median_s: new_median,
        change_pct,
        p_value,
        verdict,
        regression: verdict == Verdict::Slower && fail_pct.is_some_and(|limit| change_pct > limit),
    })
}

/// Compares every benchmark of `new` with the same benchmark (file, group, name, params) in
/// `old`.
pub fn compare(
    old: &BenchReport,
    new: &BenchReport,
    fail_on_regression_pct: Option<f64>,
) -> CompareOutcome {
    let mut outcome = CompareOutcome::default();
    for result in &new.benchmarks {
        let id = result.id();
        match old.benchmarks.iter().find(|o| o.id() == id) {
            Some(saved) => {
                if let Some(c) = compare_one(saved, result, fail_on_regression_pct) {
                    outcome.comparisons.push(c);
                }
            }
            None => outcome.new_only.push(id),
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::tests_support::result_with_rounds;

    #[test]
    fn a_material_significant_slowdown_is_a_regression() {
        let old: Vec<f64> = (0..60)
            .map(|i| 1.0e-6 * (1.0 + (i % 7) as f64 * 0.002))
            .collect();
        let slow: Vec<f64> = old.iter().map(|x| x * 1.12).collect();
        let c = compare_one(
            &result_with_rounds(&old),
            &result_with_rounds(&slow),
            Some(5.0),
        )
        .unwrap();
        assert_eq!(c.verdict, Verdict::Slower);
        assert!(c.regression);
        assert!((c.change_pct - 12.0).abs() < 0.5, "{}", c.change_pct);
        let c = compare_one(
            &result_with_rounds(&old),
            &result_with_rounds(&slow),
            Some(15.0),
        )
        .unwrap();
        assert!(!c.regression, "12% is within a 15% allowance");
    }

    #[test]
    fn the_same_rounds_are_no_change() {
        let old: Vec<f64> = (0..60)
            .map(|i| 1.0e-6 * (1.0 + (i % 7) as f64 * 0.01))
            .collect();
        let c = compare_one(
            &result_with_rounds(&old),
            &result_with_rounds(&old),
            Some(5.0),
        )
        .unwrap();
        assert_eq!(c.verdict, Verdict::NoChange);
        assert!(c.p_value > 0.5);
    }

    #[test]
    fn a_significant_but_tiny_change_is_noise() {
        let old: Vec<f64> = (0..200)
            .map(|i| 1.0e-6 * (1.0 + (i % 5) as f64 * 0.0001))
            .collect();
        let new: Vec<f64> = old.iter().map(|x| x * 1.01).collect();
        let c = compare_one(
            &result_with_rounds(&old),
            &result_with_rounds(&new),
            Some(5.0),
        )
        .unwrap();
        assert!(c.p_value < ALPHA);
        assert_eq!(c.verdict, Verdict::NoChange);
    }
}
