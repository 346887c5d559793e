//! How each configuration of a run compares with the best one, on the same rows (DESIGN §6,
//! §8): a section of `SUMMARY.md` and of `summary.json`.
//!
//! With a dataset of `R` rows, sample `i` of every configuration uses row `i mod R`. So the
//! configurations are *paired*: sample `i` of one and sample `i` of another saw the same
//! input, and comparing them pair by pair removes the rows' own difficulty from the
//! comparison (McNemar's test), which is far more sensitive than comparing two rates. Once
//! the samples outnumber the rows, each row is sampled several times and those samples are
//! not independent; every number here then counts rows as clusters:
//!
//! * each configuration's interval is Wilson's with the effective sample size of its
//!   clustered trials ([`ClusteredRate::wilson_interval`]);
//! * each comparison's p-value is McNemar's test in its clustered form, the exact sign-flip
//!   test over rows ([`clustered_mcnemar`]), in which a row's pairs count together.
//!
//! When no row repeats, both are the textbook ones (Wilson's interval, McNemar's exact test).
//! Without a dataset the configurations' samples share no input (each has its own seed),
//! and pairing by index pairs independent samples: McNemar's test is still valid (with equal
//! pass rates, a discordant pair is as likely one way as the other), it only lacks the
//! sensitivity that shared inputs give.
//! Infrastructure errors are not trials, here as everywhere in dbtest: an errored sample
//! has no outcome, and its pair is left out.

use std::collections::BTreeMap;

use dbtest_stats::clustered::ClusteredRate;
use dbtest_stats::multitest::holm_adjust;
use dbtest_stats::paired::{clustered_mcnemar, PairedMethod};
use dbtest_stats::Interval;
use serde::{Deserialize, Serialize};

use crate::report::percent;
use crate::sample::{SampleOutcome, SampleRecord};

/// Every configuration against the best one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparisons {
    /// The intervals' coverage; the tests' level is `1 - confidence`.
    pub confidence: f64,
    /// The dataset's rows; null without a dataset (every sample its own row).
    pub rows: Option<u64>,
    /// Some configuration ran a row more than once: intervals and p-values count rows as
    /// clusters.
    pub clustered: bool,
    /// The configuration with the highest pass rate; null when none has a trial.
    pub best: Option<String>,
    /// In the order the configurations were given.
    pub configurations: Vec<ConfigComparison>,
}

/// One configuration: its pass rate, and how it compares with the best.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigComparison {
    pub config_id: String,
    pub successes: u64,
    /// Successes and failures (errors are not trials).
    pub trials: u64,
    /// Distinct rows with a trial.
    pub rows: u64,
    /// `successes / trials`; null without a trial.
    pub pass_rate: Option<f64>,
    /// Wilson's interval with the effective sample size (rows as clusters).
    pub interval: Interval,
    /// Kish's design effect: 1 when no row repeats.
    pub design_effect: f64,
    /// `trials / design_effect`.
    pub effective_trials: f64,
    /// The comparison with the best; null for the best itself, and for a configuration
    /// without a trial or without a sample paired with one of the best's.
    pub vs_best: Option<VsBest>,
}

/// A configuration against the best, pair by pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VsBest {
    /// Sample indices where both have an outcome.
    pub pairs: u64,
    /// `b`: pairs where the best passed and this configuration failed.
    pub best_only: u64,
    /// `c`: pairs where this configuration passed and the best failed.
    pub this_only: u64,
    /// This configuration's pass rate minus the best's.
    pub difference: f64,
    /// McNemar's two-sided p-value: exact, over rows as clusters when rows repeat.
    pub p_value: f64,
    pub method: PairedMethod,
    /// `p_value` after Holm's correction over all the comparisons with the best.
    pub p_holm: f64,
    /// `p_holm <= 1 - confidence`: a difference chance is unlikely to explain.
    pub real_difference: bool,
}

/// One configuration's outcomes by sample index: `true` for a success. Errors have none.
type Outcomes = BTreeMap<u64, bool>;

/// Compares the configurations `config_ids` (in that order) of a run's `records` with the
/// best one.
///
/// `rows` is the dataset's row count (`None`, or 0, without a dataset: every sample is its
/// own row); sample `i` used row `i mod rows`. Records of other configurations are ignored;
/// should an index appear twice for one configuration, the first record counts.
///
/// The best configuration has the highest pass rate. Ties go to the higher lower bound of
/// the interval (the same rate from more evidence), then to the configuration given first,
/// so the choice never depends on the order of the records.
///
/// Each other configuration is paired with the best by sample index (the same index is the
/// same row in both), errors of either side left out; its p-value is
/// [`clustered_mcnemar`] over the rows' `b_g - c_g`, which is McNemar's exact test when no
/// row has more than one pair. The p-values are Holm-corrected together, and a difference
/// is called real when the corrected p-value is at most `1 - confidence`: the chance of
/// calling any difference real when none is, is then at most `1 - confidence`.
///
/// # Panics
/// If `confidence` is not in (0, 1).
pub fn compare<'a, S: AsRef<str>>(
    records: impl IntoIterator<Item = &'a SampleRecord> + Clone,
    rows: Option<u64>,
    config_ids: &[S],
    confidence: f64,
) -> Comparisons {
    let rows = rows.filter(|&r| r > 0);
    let row_of = |index: u64| rows.map_or(index, |r| index % r);
    let outcomes: Vec<Outcomes> = config_ids
        .iter()
        .map(|id| {
            let mut out = Outcomes::new();
            for r in records
                .clone()
                .into_iter()
                .filter(|r| r.config_id == id.as_ref())
            {
                if r.outcome != SampleOutcome::Error {
                    out.entry(r.index)
                        .or_insert(r.outcome == SampleOutcome::Success);
                }
            }
            out
        })
        .collect();
    let rates: Vec<ClusteredRate> = outcomes
        .iter()
        .map(|o| {
            let mut by_row: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
            for (&i, &ok) in o {
                let cell = by_row.entry(row_of(i)).or_default();
                cell.0 += u64::from(ok);
                cell.1 += 1;
            }
            ClusteredRate::from_clusters(&by_row.into_values().collect::<Vec<_>>())
        })
        .collect();
    let intervals: Vec<Interval> = rates
        .iter()
        .map(|r| r.wilson_interval(confidence))
        .collect();
    let best = best_index(&rates, &intervals);

    let mut vs: Vec<Option<VsBest>> = vec![None; config_ids.len()];
    if let Some(b) = best {
        for (i, slot) in vs.iter_mut().enumerate() {
            if i != b && rates[i].trials > 0 {
                *slot = paired(&outcomes[b], &outcomes[i], row_of);
            }
        }
        let tested: Vec<usize> = (0..vs.len()).filter(|&i| vs[i].is_some()).collect();
        let raw: Vec<f64> = tested
            .iter()
            .map(|&i| vs[i].as_ref().map_or(1.0, |v| v.p_value))
            .collect();
        for (&i, p_holm) in tested.iter().zip(holm_adjust(&raw)) {
            let v = vs[i].as_mut().expect("tested comparisons exist");
            v.p_holm = p_holm;
            v.real_difference = p_holm <= 1.0 - confidence;
            v.difference = rates[i].rate - rates[b].rate;
        }
    }

    let configurations = config_ids
        .iter()
        .zip(rates.iter().zip(&intervals))
        .zip(vs)
        .map(|((id, (r, interval)), vs_best)| ConfigComparison {
            config_id: id.as_ref().to_string(),
            successes: r.successes,
            trials: r.trials,
            rows: r.clusters,
            pass_rate: (r.trials > 0).then_some(r.rate),
            interval: *interval,
            design_effect: r.design_effect,
            effective_trials: r.effective_trials,
            vs_best,
        })
        .collect();
    Comparisons {
        confidence,
        rows,
        clustered: rates.iter().any(|r| r.trials > r.clusters),
        best: best.map(|b| config_ids[b].as_ref().to_string()),
        configurations,
    }
}

/// The configuration with the highest pass rate among those with a trial; ties to the
/// higher interval lower bound, then to the first.
fn best_index(rates: &[ClusteredRate], intervals: &[Interval]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for i in (0..rates.len()).filter(|&i| rates[i].trials > 0) {
        let better = best.is_none_or(|b| {
            // Rates compared exactly as fractions: k1/n1 > k2/n2 ⇔ k1·n2 > k2·n1.
            let lhs = u128::from(rates[i].successes) * u128::from(rates[b].trials);
            let rhs = u128::from(rates[b].successes) * u128::from(rates[i].trials);
            lhs > rhs || (lhs == rhs && intervals[i].lo > intervals[b].lo)
        });
        if better {
            best = Some(i);
        }
    }
    best
}

/// `other` against `best`, pair by sample index; `None` without a single pair. Holm's
/// p-value, the verdict and the difference are filled in by [`compare`].
fn paired(best: &Outcomes, other: &Outcomes, row_of: impl Fn(u64) -> u64) -> Option<VsBest> {
    let mut pairs = 0;
    let (mut best_only, mut this_only) = (0, 0);
    let mut by_row: BTreeMap<u64, i64> = BTreeMap::new();
    for (i, &ok_best) in best {
        let Some(&ok_other) = other.get(i) else {
            continue;
        };
        pairs += 1;
        let d = match (ok_best, ok_other) {
            (true, false) => {
                best_only += 1;
                1
            }
            (false, true) => {
                this_only += 1;
                -1
            }
            _ => 0,
        };
        *by_row.entry(row_of(*i)).or_default() += d;
    }
    if pairs == 0 {
        return None;
    }
    let test = clustered_mcnemar(&by_row.into_values().collect::<Vec<_>>());
    Some(VsBest {
        pairs,
        best_only,
        this_only,
        difference: f64::NAN,
        p_value: test.p_value,
        method: test.method,
        p_holm: f64::NAN,
        real_difference: false,
    })
}

fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".to_string()
    } else {
        format!("{p:.4}")
    }
}

/// The `SUMMARY.md` section "Compared with the best configuration": a table and a one-line
/// reading. Empty when there is nothing to compare (fewer than two configurations with a
/// trial).
pub fn markdown(c: &Comparisons) -> String {
    let Some(best_id) = &c.best else {
        return String::new();
    };
    if c.configurations.iter().filter(|r| r.trials > 0).count() < 2 {
        return String::new();
    }
    let level = percent(c.confidence);
    let mut out = String::from("## Compared with the best configuration\n\n");
    out.push_str(
        "| configuration | pass rate | interval | difference from best | discordant pairs (b, c) \
         | p (McNemar) | p (Holm) | real difference |\n",
    );
    out.push_str(&format!("|{}\n", "---|".repeat(8)));
    for r in &c.configurations {
        let is_best = &r.config_id == best_id;
        let mut cells = vec![
            format!("`{}`{}", r.config_id, if is_best { " ★" } else { "" }),
            r.pass_rate.map_or("-".into(), |p| format!("{p:.3}")),
            if r.trials > 0 {
                format!("[{:.3}, {:.3}]", r.interval.lo, r.interval.hi)
            } else {
                "-".into()
            },
        ];
        match &r.vs_best {
            Some(v) => cells.extend([
                format!("{:+.3}", v.difference),
                format!("{}, {}", v.best_only, v.this_only),
                fmt_p(v.p_value),
                fmt_p(v.p_holm),
                if v.real_difference { "yes" } else { "no" }.into(),
            ]),
            None => cells.extend(std::iter::repeat_n("-".to_string(), 5)),
        }
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    let tested = c
        .configurations
        .iter()
        .filter(|r| r.vs_best.is_some())
        .count();
    out.push_str(&format!(
        "\nEach configuration is paired with the best sample by sample{}. b: pairs where the best passed and the configuration failed; c: \
         the reverse; errored samples are left out. {} p (Holm) corrects for the {tested} \
         comparison{}; a real difference is one with p (Holm) <= {} ({level} confidence).\n",
        if c.rows.is_some() {
            " (the same sample index is the same dataset row)"
        } else {
            ""
        },
        if c.clustered {
            format!(
                "Rows repeat ({}more samples than rows): the interval is Wilson's with the \
                 effective sample size, and McNemar's test is its exact sign-flip form over \
                 rows, so that a row's repeated samples count as one piece of evidence.",
                c.rows.map_or(String::new(), |r| format!("{r} rows, "))
            )
        } else {
            format!("The interval is Wilson's at {level}; the p-value is McNemar's exact test.")
        },
        if tested == 1 { "" } else { "s" },
        fmt_alpha(1.0 - c.confidence),
    ));
    out.push_str(&format!("\n{}\n", reading(c, best_id, &level)));
    out
}

fn fmt_alpha(a: f64) -> String {
    // 1 - 0.95 is 0.050000000000000044: print the level as written.
    let s = format!("{a:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The plain-English reading of the comparisons.
fn reading(c: &Comparisons, best_id: &str, level: &str) -> String {
    let best = c
        .configurations
        .iter()
        .find(|r| r.config_id == best_id)
        .and_then(|r| r.pass_rate)
        .unwrap_or(f64::NAN);
    let names = |real: bool| -> Vec<String> {
        c.configurations
            .iter()
            .filter(|r| {
                r.vs_best
                    .as_ref()
                    .is_some_and(|v| v.real_difference == real)
            })
            .map(|r| format!("`{}`", r.config_id))
            .collect()
    };
    let (real, chance) = (names(true), names(false));
    let head = format!("`{best_id}` has the highest pass rate ({best:.3})");
    match (real.is_empty(), chance.is_empty()) {
        (true, _) => format!(
            "{head}, but no configuration differs from it beyond what chance explains at \
             {level} confidence."
        ),
        (false, true) => format!(
            "{head}; every other configuration is worse beyond chance at {level} confidence."
        ),
        (false, false) => format!(
            "{head}; {} {} worse beyond chance at {level} confidence; the difference of {} \
             could be chance.",
            real.join(", "),
            if real.len() == 1 { "is" } else { "are" },
            chance.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Records from one string per configuration, a letter per sample index: S success,
    /// F failure, E error (the notation of `tests/compare_reference.py`).
    fn records(configs: &[(&str, &str)]) -> Vec<SampleRecord> {
        let mut out = Vec::new();
        for (id, outcomes) in configs {
            for (i, ch) in outcomes.chars().enumerate() {
                out.push(SampleRecord {
                    config_id: id.to_string(),
                    index: i as u64,
                    seed: 0,
                    outcome: match ch {
                        'S' => SampleOutcome::Success,
                        'F' => SampleOutcome::Failure,
                        _ => SampleOutcome::Error,
                    },
                    attempts: 1,
                    latency_ms: 1.0,
                    tokens: 0,
                    cost_usd: 0.0,
                    message: None,
                    data: Value::Null,
                    calls: Vec::new(),
                });
            }
        }
        // The order records finish in must not matter.
        out.reverse();
        out
    }

    #[track_caller]
    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() <= 1e-9 * expected.abs() + 1e-15,
            "got {actual}, expected {expected}"
        );
    }

    // Expected values: `tests/compare_reference.py`, case "clustered". Per configuration
    // `proportion_confint(p*n_eff, n_eff, alpha=0.05, method="wilson")` with
    // `n_eff = min(n, 1 + p(1-p)/V)`, `V = OLS(y, ones).fit(cov_type="cluster",
    // cov_kwds={"groups": index % 4}).bse[0]**2`; p-values from `scipy.stats.
    // permutation_test((row sums,), np.sum, permutation_type="samples",
    // n_resamples=np.inf)`; Holm from `multipletests(p, method="holm")`.
    const CLUSTERED: &[(&str, &str)] = &[
        ("a", "SSSSSSFSSSSS"),
        ("b", "SFSFSFSFFFSF"),
        ("c", "SSFSSSSSESSF"),
        ("d", "EEEEEEEEEEEE"),
    ];

    #[test]
    fn clustered_rows_match_statsmodels_and_scipy() {
        let c = compare(&records(CLUSTERED), Some(4), &["a", "b", "c", "d"], 0.95);
        assert!(c.clustered);
        assert_eq!(c.best.as_deref(), Some("a"));
        let [a, b, cc, d] = &c.configurations[..] else {
            panic!("four configurations")
        };
        close(a.effective_trials, 11.999999999999995);
        close(a.interval.lo, 0.646120088858883);
        close(a.interval.hi, 0.9851349055950829);
        assert!(a.vs_best.is_none());

        close(b.pass_rate.unwrap(), 0.4166666666666667);
        close(b.effective_trials, 4.888888888888885);
        close(b.interval.lo, 0.12425698288323622);
        close(b.interval.hi, 0.7824117041015421);
        let v = b.vs_best.as_ref().unwrap();
        assert_eq!((v.pairs, v.best_only, v.this_only), (12, 7, 1));
        // Row sums [1, 3, -1, 3]: 4 rows cannot show it, though McNemar's exact test on
        // the 8 discordant pairs as if independent would say p = 0.0703.
        close(v.p_value, 0.375);
        assert_eq!(v.method, PairedMethod::SignFlipExact);
        close(v.p_holm, 0.75);
        assert!(!v.real_difference);
        close(v.difference, 0.4166666666666667 - 0.9166666666666666);

        assert_eq!((cc.successes, cc.trials, cc.rows), (9, 11, 4));
        close(cc.effective_trials, 11.0);
        close(cc.interval.lo, 0.5230194380391557);
        close(cc.interval.hi, 0.9486323102539149);
        let v = cc.vs_best.as_ref().unwrap();
        // The errored index 8 leaves its pair out.
        assert_eq!((v.pairs, v.best_only, v.this_only), (11, 2, 1));
        close(v.p_value, 1.0);
        close(v.p_holm, 1.0);

        assert_eq!(d.trials, 0);
        assert_eq!(d.pass_rate, None);
        assert!(d.vs_best.is_none());
    }

    // Case "no_dataset" of `tests/compare_reference.py`: every sample its own row, so
    // `proportion_confint(k, n, 0.05, "wilson")` and `mcnemar([[0, b], [c, 0]],
    // exact=True).pvalue`, then `multipletests(p, method="holm")`.
    const NO_DATASET: &[(&str, &str)] = &[
        ("x", "SSSSSSSSSFSSSSSSSSSSSSFSSSSSSS"),
        ("y", "SFSSFSSSSFSFSSFSSSFSSSFSSFSSFS"),
        ("z", "SSSSSSSSFFSSSSSSSSSSSSFSSSSSFS"),
    ];

    #[test]
    fn without_a_dataset_it_is_wilson_and_exact_mcnemar() {
        let ids = ["y".to_string(), "x".to_string(), "z".to_string()];
        let c = compare(&records(NO_DATASET), None, &ids, 0.95);
        assert!(!c.clustered);
        assert_eq!(c.best.as_deref(), Some("x"));
        let by = |id: &str| c.configurations.iter().find(|r| r.config_id == id).unwrap();
        let (x, y, z) = (by("x"), by("y"), by("z"));
        assert_eq!(x.design_effect, 1.0);
        close(x.interval.lo, 0.7867654163738307);
        close(x.interval.hi, 0.9815229762087296);
        close(y.interval.lo, 0.5212421254128503);
        close(y.interval.hi, 0.833352517317562);
        close(z.interval.lo, 0.703186733179637);
        close(z.interval.hi, 0.9469034451594526);
        let vy = y.vs_best.as_ref().unwrap();
        assert_eq!((vy.best_only, vy.this_only), (7, 0));
        assert_eq!(vy.method, PairedMethod::ExactBinomial);
        close(vy.p_value, 0.015625);
        close(vy.p_holm, 0.03125);
        assert!(vy.real_difference);
        let vz = z.vs_best.as_ref().unwrap();
        assert_eq!((vz.best_only, vz.this_only), (2, 0));
        close(vz.p_value, 0.5);
        close(vz.p_holm, 0.5);
        assert!(!vz.real_difference);
        // The order configurations are given in is the table's order.
        let order: Vec<&str> = c
            .configurations
            .iter()
            .map(|r| r.config_id.as_str())
            .collect();
        assert_eq!(order, ["y", "x", "z"]);
    }

    #[test]
    fn ties_go_to_more_evidence_then_to_the_first() {
        // Same rate 3/4; "more" has 4x the trials, so a higher lower bound.
        let recs = records(&[("few", "SSSF"), ("more", "SSSFSSSFSSSFSSSF")]);
        let c = compare(&recs, None, &["few", "more"], 0.95);
        assert_eq!(c.best.as_deref(), Some("more"));
        let recs = records(&[("p", "SSFS"), ("q", "SFSS")]);
        assert_eq!(
            compare(&recs, None, &["p", "q"], 0.95).best.as_deref(),
            Some("p")
        );
        assert_eq!(
            compare(&recs, None, &["q", "p"], 0.95).best.as_deref(),
            Some("q")
        );
    }

    #[test]
    fn the_section_reads_plainly() {
        let c = compare(&records(NO_DATASET), None, &["x", "y", "z"], 0.95);
        let md = markdown(&c);
        assert!(
            md.starts_with("## Compared with the best configuration\n"),
            "{md}"
        );
        assert!(
            md.contains("| `x` ★ | 0.933 | [0.787, 0.982] | - | - | - | - | - |"),
            "{md}"
        );
        assert!(
            md.contains("| `y` | 0.700 | [0.521, 0.833] | -0.233 | 7, 0 | 0.0156 | 0.0313 | yes |"),
            "{md}"
        );
        assert!(md.contains("p (Holm) <= 0.05 (95% confidence)"), "{md}");
        assert!(md.contains("McNemar's exact test"), "{md}");
        assert!(
            md.contains(
                "`x` has the highest pass rate (0.933); `y` is worse beyond chance at 95% \
                 confidence; the difference of `z` could be chance."
            ),
            "{md}"
        );
        let md = markdown(&compare(
            &records(CLUSTERED),
            Some(4),
            &["a", "b", "c"],
            0.9,
        ));
        assert!(
            md.contains("Rows repeat (4 rows, more samples than rows)"),
            "{md}"
        );
        assert!(
            md.contains("no configuration differs from it beyond what chance explains at 90%"),
            "{md}"
        );
    }

    #[test]
    fn nothing_to_compare_writes_nothing() {
        let recs = records(&[("only", "SSF"), ("broken", "EEE")]);
        assert_eq!(
            markdown(&compare(&recs, None, &["only", "broken"], 0.95)),
            ""
        );
        assert_eq!(markdown(&compare(&[], Some(3), &["a"], 0.95)), "");
    }

    #[test]
    fn serializes_for_summary_json() {
        let c = compare(&records(NO_DATASET), None, &["x", "y"], 0.95);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["best"], "x");
        assert_eq!(v["configurations"][1]["vs_best"]["best_only"], 7);
        assert_eq!(
            v["configurations"][1]["vs_best"]["method"],
            "exact_binomial"
        );
        assert_eq!(v["configurations"][0]["vs_best"], Value::Null);
        let back: Comparisons = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
