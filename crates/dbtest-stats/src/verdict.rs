//! The decision rule of a probabilistic test (DESIGN §6).
//!
//! A probabilistic test runs a spec's use case `N` times (the spec's `samples`) and counts
//! successes `k`. Its verdict depends on where the spec's threshold came from:
//!
//! * **Empirical** (approved from a baseline of `kb` successes in `nb` samples): the test
//!   fails only when its pass rate is *significantly below the baseline's* at the spec's
//!   confidence `c`, counting the noise of both runs: the one-sided (level `c`) upper bound
//!   of `p_test - p_baseline` from Newcombe's hybrid score interval
//!   ([`newcombe_diff_upper_bound`]) is below 0. So an unchanged feature fails at most about
//!   `1 - c` of the time, whatever luck the baseline had. (Using the baseline's Wilson
//!   lower bound as a fixed threshold ignores the baseline's own noise; the crate's
//!   simulation test shows it fails an unchanged feature far more often.)
//! * **Contractual** (`sla`, `slo`, `policy`: a rate someone promised): the test passes when
//!   `k / N >= min_pass_rate`.
//!
//! Both verdicts are monotone in `k`, so each reduces to a minimum number of successes at
//! `N`, `k_min` ([`DecisionRule::min_successes`]). `approve` writes `k_min / N`
//! ([`empirical_threshold`]) as the spec's `min_pass_rate`, so every verdict can be read as
//! a plain rate. Sampling stops early ([`DecisionRule::decide`]) once the verdict cannot
//! change: fail when `k + (N - n) < k_min` (even all-success from here would fall short),
//! pass when `k >= k_min` (even all-failure from here would pass).
//!
//! INCONCLUSIVE outcomes (budget spent, too many infrastructure errors, missing or expired
//! spec) are decided by the runner, not here: this module only sees successes and failures.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::proportion::{newcombe_diff_upper_bound, wilson_interval};
use crate::sample_size::feasibility_min_samples;
use crate::Interval;

/// Successes out of trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Samples that succeeded.
    pub successes: u64,
    /// Samples run (successes + failures; infrastructure errors are not trials).
    pub trials: u64,
}

impl Counts {
    /// Counts from successes and trials.
    pub const fn new(successes: u64, trials: u64) -> Self {
        Self { successes, trials }
    }

    /// `successes / trials` (NaN for no trials).
    pub fn rate(&self) -> f64 {
        self.successes as f64 / self.trials as f64
    }
}

/// Where a spec's threshold comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// Approved from a baseline run: fail only on a significant drop below it.
    Empirical {
        /// The baseline's successes and samples.
        baseline: Counts,
    },
    /// Promised by an SLA, an SLO or a policy: pass when the observed rate reaches it.
    Contractual {
        /// The rate the test must reach at the end, in `[0, 1]`.
        min_pass_rate: f64,
    },
}

/// Why a spec cannot be turned into a decision rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerdictError {
    /// Confidence outside (0, 1).
    #[error("confidence must be between 0 and 1 (exclusive), got {0}")]
    Confidence(f64),
    /// A spec must plan at least one sample.
    #[error("a spec must plan at least one sample")]
    NoSamples,
    /// The baseline has more successes than samples, or no samples.
    #[error("invalid baseline: {successes} successes out of {trials} samples")]
    Baseline {
        /// Baseline successes.
        successes: u64,
        /// Baseline samples.
        trials: u64,
    },
    /// `min_pass_rate` outside `[0, 1]`.
    #[error("min_pass_rate must be between 0 and 1, got {0}")]
    MinPassRate(f64),
    /// The planned sample count can never show the threshold (see
    /// [`feasibility_min_samples`]).
    #[error(
        "{planned} samples can never show a pass rate of {min_pass_rate} at {confidence} \
         confidence: even {planned}/{planned} successes fall short; {} are needed",
        needed.map_or_else(|| "no finite number of samples".to_string(), |n| format!("at least {n} samples"))
    )]
    Infeasible {
        /// The spec's sample count.
        planned: u64,
        /// The threshold.
        min_pass_rate: f64,
        /// The spec's confidence.
        confidence: f64,
        /// The smallest sample count that could show it, if any.
        needed: Option<u64>,
    },
}

/// Why sampling stopped with a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All planned samples ran.
    Completed,
    /// Enough successes: the test passes even if every remaining sample fails.
    SuccessGuaranteed,
    /// Too many failures: the test fails even if every remaining sample succeeds.
    FailureUnrecoverable,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::Completed => "all planned samples ran",
            StopReason::SuccessGuaranteed => {
                "stopped early: success guaranteed, the remaining samples cannot change the verdict"
            }
            StopReason::FailureUnrecoverable => {
                "stopped early: failure unrecoverable, even all remaining samples succeeding cannot reach the threshold"
            }
        })
    }
}

/// What to do after a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The verdict still depends on the samples to come: run another.
    Continue,
    /// The test passes; stop sampling.
    Pass(StopReason),
    /// The test fails; stop sampling.
    Fail(StopReason),
}

/// Whether a test run with `k` successes in `n` samples passes the empirical rule against
/// a baseline of `kb` in `nb` at `confidence`: i.e. whether the one-sided upper bound of
/// `p_test - p_baseline` (Newcombe) is `>= 0`.
///
/// This is the rule at any `n`; a spec applies it at its planned `N`
/// (see [`DecisionRule`]).
///
/// # Panics
/// If a count exceeds its trials or `confidence` is not in (0, 1).
pub fn empirical_passes(kb: u64, nb: u64, k: u64, n: u64, confidence: f64) -> bool {
    newcombe_diff_upper_bound(k, n, kb, nb, confidence) >= 0.0
}

/// The fewest successes out of `planned` samples that pass the empirical rule against a
/// baseline of `kb` in `nb`. Always `<= planned`: an all-success run always passes (its
/// upper bound is `1 - wilson_low(baseline) > 0`).
///
/// # Panics
/// As [`empirical_passes`].
pub fn empirical_min_successes(kb: u64, nb: u64, planned: u64, confidence: f64) -> u64 {
    // Smallest k such that every k' in k..=planned passes (the rule is monotone in k;
    // scanning down from `planned` keeps the guarantee even if rounding ever disagreed).
    let mut k = planned;
    while k > 0 && empirical_passes(kb, nb, k - 1, planned, confidence) {
        k -= 1;
    }
    k
}

/// The smallest pass rate `k / planned` that passes the empirical rule: what `approve`
/// writes as an empirical spec's `min_pass_rate`, so a verdict can be read as a plain
/// rate. Equals [`empirical_min_successes`]` / planned`.
///
/// # Panics
/// As [`empirical_passes`], or if `planned` is 0.
pub fn empirical_threshold(kb: u64, nb: u64, planned: u64, confidence: f64) -> f64 {
    assert!(planned > 0, "planned samples must be at least 1");
    empirical_min_successes(kb, nb, planned, confidence) as f64 / planned as f64
}

/// The decision rule of one spec: its threshold, planned sample count and confidence, with
/// the minimum number of successes computed once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecisionRule {
    threshold: Threshold,
    planned: u64,
    confidence: f64,
    min_successes: u64,
}

impl DecisionRule {
    /// Build the rule for a spec, or refuse the spec.
    ///
    /// Refuses a confidence outside (0, 1), zero planned samples, an invalid baseline (no
    /// samples, or more successes than samples), a `min_pass_rate` outside `[0, 1]`, and a
    /// contractual threshold the planned sample count can never show (fewer samples than
    /// [`feasibility_min_samples`]). An empirical spec is always feasible.
    pub fn new(threshold: Threshold, planned: u64, confidence: f64) -> Result<Self, VerdictError> {
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(VerdictError::Confidence(confidence));
        }
        if planned == 0 {
            return Err(VerdictError::NoSamples);
        }
        let min_successes = match threshold {
            Threshold::Empirical { baseline } => {
                if baseline.trials == 0 || baseline.successes > baseline.trials {
                    return Err(VerdictError::Baseline {
                        successes: baseline.successes,
                        trials: baseline.trials,
                    });
                }
                empirical_min_successes(baseline.successes, baseline.trials, planned, confidence)
            }
            Threshold::Contractual { min_pass_rate } => {
                if !(0.0..=1.0).contains(&min_pass_rate) {
                    return Err(VerdictError::MinPassRate(min_pass_rate));
                }
                let needed = feasibility_min_samples(min_pass_rate, confidence);
                if needed.is_none_or(|needed| planned < needed) {
                    return Err(VerdictError::Infeasible {
                        planned,
                        min_pass_rate,
                        confidence,
                        needed,
                    });
                }
                contractual_min_successes(min_pass_rate, planned)
            }
        };
        Ok(Self {
            threshold,
            planned,
            confidence,
            min_successes,
        })
    }

    /// The threshold this rule applies.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// The planned sample count `N`.
    pub fn planned(&self) -> u64 {
        self.planned
    }

    /// The confidence level.
    pub fn confidence(&self) -> f64 {
        self.confidence
    }

    /// `k_min`: the fewest successes out of `N` that pass.
    pub fn min_successes(&self) -> u64 {
        self.min_successes
    }

    /// `k_min / N`: the threshold as a plain rate (for an empirical spec, the value
    /// `approve` writes as `min_pass_rate`).
    pub fn min_pass_rate(&self) -> f64 {
        self.min_successes as f64 / self.planned as f64
    }

    /// Whether `successes` out of all `N` planned samples pass.
    pub fn passes(&self, successes: u64) -> bool {
        successes >= self.min_successes
    }

    /// Decide after `samples_run` samples with `successes` successes: stop with a verdict
    /// as soon as it cannot change, else continue. At `samples_run == N` the answer is
    /// always `Pass(Completed)` or `Fail(Completed)`.
    ///
    /// # Panics
    /// If `successes > samples_run` or `samples_run > N`.
    pub fn decide(&self, successes: u64, samples_run: u64) -> Decision {
        assert!(
            successes <= samples_run,
            "successes ({successes}) must not exceed samples run ({samples_run})"
        );
        assert!(
            samples_run <= self.planned,
            "samples run ({samples_run}) must not exceed samples planned ({})",
            self.planned
        );
        let remaining = self.planned - samples_run;
        let reason = |early| {
            if remaining == 0 {
                StopReason::Completed
            } else {
                early
            }
        };
        if successes >= self.min_successes {
            Decision::Pass(reason(StopReason::SuccessGuaranteed))
        } else if successes + remaining < self.min_successes {
            Decision::Fail(reason(StopReason::FailureUnrecoverable))
        } else {
            Decision::Continue
        }
    }

    /// The two-sided Wilson interval of the observed rate at the rule's confidence: the
    /// interval a verdict's message reports.
    pub fn observed_interval(&self, successes: u64, samples_run: u64) -> Interval {
        wilson_interval(successes, samples_run, self.confidence)
    }
}

/// Smallest `k` with `k / planned >= min_pass_rate`, computed with the same division the
/// rate comparison uses so the two cannot disagree by rounding.
fn contractual_min_successes(min_pass_rate: f64, planned: u64) -> u64 {
    let n = planned as f64;
    let reaches = |k: u64| k as f64 / n >= min_pass_rate;
    // min_pass_rate <= 1, so the estimate is at most `planned`.
    let mut k = ((min_pass_rate * n).ceil() as u64).min(planned);
    while k > 0 && reaches(k - 1) {
        k -= 1;
    }
    while !reaches(k) {
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empirical(kb: u64, nb: u64, planned: u64, c: f64) -> DecisionRule {
        DecisionRule::new(
            Threshold::Empirical {
                baseline: Counts::new(kb, nb),
            },
            planned,
            c,
        )
        .unwrap()
    }

    #[test]
    fn empirical_min_successes_is_the_boundary() {
        for (kb, nb, planned) in [
            (180, 200, 200),
            (95, 100, 50),
            (200, 200, 30),
            (0, 50, 20),
            (7, 10, 10),
        ] {
            let k = empirical_min_successes(kb, nb, planned, 0.95);
            assert!(k <= planned);
            assert!(empirical_passes(kb, nb, k, planned, 0.95));
            if k > 0 {
                assert!(!empirical_passes(kb, nb, k - 1, planned, 0.95));
            }
            // Monotone: every k above passes.
            assert!((k..=planned).all(|k| empirical_passes(kb, nb, k, planned, 0.95)));
        }
        // A 0-success baseline passes anything.
        assert_eq!(empirical_min_successes(0, 50, 20, 0.95), 0);
    }

    #[test]
    fn threshold_is_below_baseline_rate() {
        let t = empirical_threshold(180, 200, 200, 0.95);
        assert!(t < 0.9 && t > 0.8, "{t}");
        assert_eq!(empirical(180, 200, 200, 0.95).min_pass_rate(), t);
    }

    #[test]
    fn decide_stops_early_both_ways() {
        let rule = empirical(180, 200, 100, 0.95);
        let k_min = rule.min_successes();
        assert_eq!(rule.decide(0, 0), Decision::Continue);
        assert_eq!(
            rule.decide(k_min, k_min),
            Decision::Pass(StopReason::SuccessGuaranteed)
        );
        let fails = 100 - k_min + 1;
        assert_eq!(
            rule.decide(0, fails),
            Decision::Fail(StopReason::FailureUnrecoverable)
        );
        assert_eq!(rule.decide(0, fails - 1), Decision::Continue);
        assert_eq!(
            rule.decide(k_min, 100),
            Decision::Pass(StopReason::Completed)
        );
        assert_eq!(
            rule.decide(k_min - 1, 100),
            Decision::Fail(StopReason::Completed)
        );
    }

    #[test]
    fn contractual_rule() {
        let rule =
            DecisionRule::new(Threshold::Contractual { min_pass_rate: 0.9 }, 100, 0.95).unwrap();
        assert_eq!(rule.min_successes(), 90);
        assert!(rule.passes(90) && !rule.passes(89));
        let rule =
            DecisionRule::new(Threshold::Contractual { min_pass_rate: 0.7 }, 30, 0.95).unwrap();
        // 0.7 * 30 = 21.000000000000004 in floating point; 21/30 must still reach 0.7.
        assert_eq!(rule.min_successes(), 21);
        assert_eq!(contractual_min_successes(0.0, 10), 0);
        assert_eq!(contractual_min_successes(1.0, 10), 10);
    }

    #[test]
    fn refuses_bad_specs() {
        let c = Threshold::Contractual {
            min_pass_rate: 0.99,
        };
        let err = DecisionRule::new(c, 100, 0.95).unwrap_err();
        assert!(
            matches!(
                err,
                VerdictError::Infeasible {
                    needed: Some(268),
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("at least 268 samples"), "{err}");
        assert!(DecisionRule::new(c, 268, 0.95).is_ok());
        let one = Threshold::Contractual { min_pass_rate: 1.0 };
        assert!(matches!(
            DecisionRule::new(one, 1000, 0.95),
            Err(VerdictError::Infeasible { needed: None, .. })
        ));
        let e = Threshold::Empirical {
            baseline: Counts::new(5, 0),
        };
        assert!(matches!(
            DecisionRule::new(e, 10, 0.95),
            Err(VerdictError::Baseline { .. })
        ));
        assert_eq!(DecisionRule::new(c, 0, 0.95), Err(VerdictError::NoSamples));
        assert_eq!(
            DecisionRule::new(c, 10, 95.0),
            Err(VerdictError::Confidence(95.0))
        );
        assert_eq!(
            DecisionRule::new(Threshold::Contractual { min_pass_rate: 1.5 }, 10, 0.95),
            Err(VerdictError::MinPassRate(1.5))
        );
    }
}
