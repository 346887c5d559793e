//! Statistics for dbtest, in pure Rust.
//!
//! What each module serves (see DESIGN §5 and §6):
//!
//! * [`descriptive`] — the numbers a benchmark prints: min, max, mean, median, stddev,
//!   quartiles, p5/p95/p99, coefficient of variation, and Tukey outliers.
//! * [`bootstrap`] — a confidence interval for a benchmark's median (or any statistic).
//! * [`ranktest`] — the Mann-Whitney U test `dbtest bench --compare` uses to decide whether
//!   a benchmark got slower than a saved run.
//! * [`proportion`] — confidence intervals for pass rates (Wilson, Clopper-Pearson) and for
//!   the difference of two pass rates (Newcombe), as baselines and verdicts report them.
//! * [`clustered`] — pass rates when several samples share one dataset row (rows as
//!   clusters): the cluster-robust variance, the design effect, and Wilson's interval with
//!   the effective sample size.
//! * [`paired`] — McNemar's test for two configurations run on the same rows, exact, and
//!   its clustered (sign-flip) form.
//! * [`multitest`] — Holm's correction when an experiment makes several comparisons.
//! * [`sample_size`] — how many samples an experiment needs, and the smallest sample count
//!   at which a spec's threshold can be shown at all.
//! * [`verdict`] — the decision rule of a probabilistic test, with early termination.
//!
//! Every function here is deterministic (the bootstrap takes a seed) and checked in the
//! crate's tests against SciPy, statsmodels and NumPy (see `tests/reference.py` and
//! `tests/reference_paired.py`).
//!
//! Invalid arguments that can only come from a programming error (a confidence outside
//! (0, 1), more successes than trials) panic, as documented on each function; inputs a
//! user writes (a spec's threshold and sample counts) are validated by
//! [`verdict::DecisionRule::new`], which returns an error instead.

pub mod bootstrap;
pub mod clustered;
pub mod descriptive;
mod dist;
pub mod multitest;
pub mod paired;
pub mod proportion;
pub mod ranktest;
pub mod sample_size;
pub mod verdict;

pub use dist::{normal_quantile, normal_sf};

use serde::{Deserialize, Serialize};

/// A closed interval `[lo, hi]`: a confidence interval, or the two bounds of one.
///
/// One-sided bounds are returned as plain `f64`s by the `*_lower_bound` / `*_upper_bound`
/// functions; an `Interval` is always two-sided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The lower end.
    pub lo: f64,
    /// The upper end.
    pub hi: f64,
}

impl Interval {
    /// An interval from its two ends.
    pub const fn new(lo: f64, hi: f64) -> Self {
        Self { lo, hi }
    }

    /// `hi - lo`.
    pub fn width(&self) -> f64 {
        self.hi - self.lo
    }

    /// Half the width: the "± margin" an experiment's `stop_when.ci_half_width` compares.
    pub fn half_width(&self) -> f64 {
        self.width() / 2.0
    }

    /// Whether `x` lies in `[lo, hi]`.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

impl From<Interval> for (f64, f64) {
    fn from(i: Interval) -> Self {
        (i.lo, i.hi)
    }
}

/// Panics unless `0 < confidence < 1`; shared by every function taking a confidence level.
#[track_caller]
pub(crate) fn check_confidence(confidence: f64) {
    assert!(
        confidence > 0.0 && confidence < 1.0,
        "confidence must be in (0, 1), got {confidence}"
    );
}
