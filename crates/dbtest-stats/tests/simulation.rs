//! Simulation of the probabilistic test's decision rule (DESIGN §6): how often it fails an
//! unchanged feature, compared with the naive "test rate below the baseline's Wilson lower
//! bound" rule, and how reliably it catches a real drop. Seeded, so the rates are fixed.
//!
//! Run with `--nocapture` to see the rates.

use dbtest_stats::proportion::wilson_lower_bound;
use dbtest_stats::verdict::{Counts, Decision, DecisionRule, StopReason, Threshold};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const REPETITIONS: u32 = 2_000;

fn draws(rng: &mut ChaCha8Rng, p: f64, n: u64) -> Vec<bool> {
    (0..n).map(|_| rng.random::<f64>() < p).collect()
}

/// Run the rule sample by sample as `verify` does, stopping at the first verdict; check that
/// stopping early never changes the verdict the full run would give. Returns whether it
/// failed.
fn run_test(rule: &DecisionRule, samples: &[bool]) -> bool {
    let full_pass = rule.passes(samples.iter().filter(|&&s| s).count() as u64);
    let mut k = 0;
    for (i, &ok) in samples.iter().enumerate() {
        k += u64::from(ok);
        match rule.decide(k, i as u64 + 1) {
            Decision::Continue => continue,
            Decision::Pass(reason) => {
                assert!(full_pass, "early pass ({reason:?}) but the full run fails");
                if i + 1 < samples.len() {
                    assert_eq!(reason, StopReason::SuccessGuaranteed);
                }
                return false;
            }
            Decision::Fail(reason) => {
                assert!(
                    !full_pass,
                    "early fail ({reason:?}) but the full run passes"
                );
                if i + 1 < samples.len() {
                    assert_eq!(reason, StopReason::FailureUnrecoverable);
                }
                return true;
            }
        }
    }
    unreachable!("decide() must give a verdict at the last sample");
}

struct Rates {
    empirical_fail: f64,
    naive_fail: f64,
    mean_samples_run: f64,
}

/// Baseline of `nb` samples at rate `p_base`, test of `planned` samples at rate `p_test`.
fn simulate(p_base: f64, p_test: f64, nb: u64, planned: u64, confidence: f64, seed: u64) -> Rates {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut empirical, mut naive, mut samples_run) = (0u32, 0u32, 0u64);
    for _ in 0..REPETITIONS {
        let kb = draws(&mut rng, p_base, nb).iter().filter(|&&s| s).count() as u64;
        let test = draws(&mut rng, p_test, planned);
        let k = test.iter().filter(|&&s| s).count() as u64;
        let rule = DecisionRule::new(
            Threshold::Empirical {
                baseline: Counts::new(kb, nb),
            },
            planned,
            confidence,
        )
        .unwrap();
        if run_test(&rule, &test) {
            empirical += 1;
        }
        samples_run += early_stop_point(&rule, &test);
        // The naive rule: the baseline's one-sided Wilson lower bound as a fixed threshold.
        if (k as f64 / planned as f64) < wilson_lower_bound(kb, nb, confidence) {
            naive += 1;
        }
    }
    let reps = f64::from(REPETITIONS);
    Rates {
        empirical_fail: f64::from(empirical) / reps,
        naive_fail: f64::from(naive) / reps,
        mean_samples_run: samples_run as f64 / reps,
    }
}

fn early_stop_point(rule: &DecisionRule, samples: &[bool]) -> u64 {
    let mut k = 0;
    for (i, &ok) in samples.iter().enumerate() {
        k += u64::from(ok);
        if rule.decide(k, i as u64 + 1) != Decision::Continue {
            return i as u64 + 1;
        }
    }
    samples.len() as u64
}

#[test]
fn unchanged_feature_rarely_fails_and_naive_rule_fails_more() {
    let r = simulate(0.9, 0.9, 200, 200, 0.95, 11);
    println!(
        "unchanged p=0.9, nb=N=200, c=0.95: empirical false-fail {:.4}, naive false-fail {:.4}, \
         mean samples run {:.1}",
        r.empirical_fail, r.naive_fail, r.mean_samples_run
    );
    assert!(
        r.empirical_fail <= 0.07,
        "empirical rule fails too often: {}",
        r.empirical_fail
    );
    assert!(
        r.naive_fail > r.empirical_fail + 0.03,
        "the naive rule should fail an unchanged feature clearly more often: naive {} vs {}",
        r.naive_fail,
        r.empirical_fail
    );
}

#[test]
fn unchanged_feature_at_other_rates_and_sizes() {
    for (i, (p, nb, planned, c)) in [
        (0.5, 200, 200, 0.95),
        (0.8, 500, 100, 0.95),
        (0.97, 300, 300, 0.95),
        (0.9, 100, 400, 0.9),
    ]
    .into_iter()
    .enumerate()
    {
        let r = simulate(p, p, nb, planned, c, 100 + i as u64);
        println!(
            "unchanged p={p}, nb={nb}, N={planned}, c={c}: empirical false-fail {:.4}, naive {:.4}",
            r.empirical_fail, r.naive_fail
        );
        assert!(
            r.empirical_fail <= (1.0 - c) + 0.02,
            "p={p}: empirical false-fail {} exceeds 1 - c",
            r.empirical_fail
        );
    }
}

#[test]
fn twenty_point_drop_is_caught() {
    let r = simulate(0.9, 0.7, 200, 200, 0.95, 12);
    println!(
        "drop 0.9 -> 0.7, nb=N=200, c=0.95: detection {:.4}, mean samples run {:.1}",
        r.empirical_fail, r.mean_samples_run
    );
    assert!(
        r.empirical_fail >= 0.99,
        "drop detected only {}",
        r.empirical_fail
    );
    assert!(
        r.mean_samples_run < 200.0,
        "early termination should cut sampling short"
    );
}

/// The same question without Monte Carlo noise: the exact probability that an unchanged
/// feature fails, summing over every baseline outcome `kb` (binomial weights) the binomial
/// probability that the test lands below that baseline's `k_min`.
fn exact_false_fail(p: f64, nb: u64, planned: u64, confidence: f64) -> (f64, f64) {
    use dbtest_stats::verdict::empirical_min_successes;
    use statrs::distribution::{Binomial, Discrete, DiscreteCDF};
    let baseline = Binomial::new(p, nb).unwrap();
    let test = Binomial::new(p, planned).unwrap();
    let below = |k_min: u64| if k_min == 0 { 0.0 } else { test.cdf(k_min - 1) };
    let (mut empirical, mut naive) = (0.0, 0.0);
    for kb in 0..=nb {
        let w = baseline.pmf(kb);
        empirical += w * below(empirical_min_successes(kb, nb, planned, confidence));
        let lb = wilson_lower_bound(kb, nb, confidence);
        let naive_k_min = (0..=planned)
            .find(|&k| k as f64 / planned as f64 >= lb)
            .unwrap_or(planned + 1);
        naive += w * below(naive_k_min);
    }
    (empirical, naive)
}

#[test]
fn exact_false_fail_rates_are_near_one_minus_confidence() {
    for (p, nb, planned, c) in [
        (0.9, 200, 200, 0.95),
        (0.5, 200, 200, 0.95),
        (0.97, 300, 300, 0.95),
        (0.99, 200, 200, 0.95),
        (0.7, 30, 30, 0.95),
        (0.8, 500, 100, 0.95),
        (0.9, 1000, 100, 0.95),
        (0.9, 100, 1000, 0.95),
        (0.9, 200, 200, 0.99),
    ] {
        let (empirical, naive) = exact_false_fail(p, nb, planned, c);
        println!(
            "exact: p={p}, nb={nb}, N={planned}, c={c}: empirical false-fail {empirical:.4}, \
             naive {naive:.4}"
        );
        // Newcombe's interval is approximate: slightly above 1 - c when the baseline is much
        // larger than the test (the test's Wilson bound then carries all the noise).
        assert!(
            empirical <= (1.0 - c) + 0.01,
            "p={p}, nb={nb}, N={planned}: exact false-fail {empirical}"
        );
        assert!(
            naive > empirical,
            "p={p}, nb={nb}, N={planned}: naive {naive} vs {empirical}"
        );
    }
}
