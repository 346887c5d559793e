//! Clustered pass rates, McNemar's test and Holm's correction, checked against statsmodels
//! 0.15.0 and SciPy 1.17.1. `reference_paired.py` prints every literal below; each comment
//! names the call that produced it.

use dbtest_stats::clustered::ClusteredRate;
use dbtest_stats::multitest::holm_adjust;
use dbtest_stats::paired::{clustered_mcnemar, mcnemar_chi2, mcnemar_exact, PairedMethod};

/// Closed forms evaluated the same way: agree to 1e-9 relative.
const CLOSE: f64 = 1e-9;

#[track_caller]
fn assert_close(actual: f64, expected: f64, what: &str) {
    let tol = CLOSE * expected.abs() + 1e-15;
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: got {actual:e}, expected {expected:e}"
    );
}

struct ClusterCase {
    name: &'static str,
    /// Each row's (successes, trials).
    clusters: &'static [(u64, u64)],
    /// `res = sm.OLS(y, ones).fit(cov_type="cluster", cov_kwds={"groups": g})`:
    /// `res.params[0]`, `res.bse[0]**2`, `res.conf_int(alpha=0.05)[0]` (unclipped).
    rate: f64,
    variance: f64,
    wald: (f64, f64),
    /// `1 + p(1-p)/V`, then `proportion_confint(p*n_eff, n_eff, alpha=0.05,
    /// method="wilson")` (statsmodels accepts a fractional count).
    n_eff: f64,
    wilson: (f64, f64),
}

const CLUSTER_CASES: &[ClusterCase] = &[
    ClusterCase {
        name: "mixed_rows",
        clusters: &[(3, 4), (4, 4), (0, 4), (2, 4), (4, 4), (1, 4)],
        rate: 0.5833333333333334,
        variance: 0.02777777777777781,
        wald: (0.25667266924332416, 0.9099939974233426),
        n_eff: 9.74999999999999,
        wilson: (0.2966235518113472, 0.822936829560357),
    },
    ClusterCase {
        name: "unequal_rows",
        clusters: &[(5, 5), (2, 3), (7, 10), (0, 2), (9, 9), (3, 6), (1, 1)],
        rate: 0.75,
        variance: 0.010352366255144033,
        wald: (0.5505803704098333, 0.9494196295901667),
        n_eff: 19.111801242236027,
        wilson: (0.5261418649962208, 0.8901781085029219),
    },
    ClusterCase {
        name: "near_one",
        clusters: &[
            (30, 30),
            (30, 30),
            (30, 30),
            (30, 30),
            (30, 30),
            (30, 30),
            (30, 30),
            (30, 30),
            (30, 30),
            (28, 30),
        ],
        rate: 0.993333333333333,
        variance: 4.444444444444433e-05,
        // statsmodels does not clip: the upper end is 1.0063997598969332; ours is clipped.
        wald: (0.9802669067697326, 1.0),
        n_eff: 150.00000000000873,
        wilson: (0.9632071602251827, 0.9988221986649825),
    },
];

#[test]
fn clustered_rate_matches_statsmodels_cluster_robust_ols() {
    for c in CLUSTER_CASES {
        let r = ClusteredRate::from_clusters(c.clusters);
        assert_close(r.rate, c.rate, c.name);
        assert_close(r.variance, c.variance, c.name);
        let w = r.wald_interval(0.95);
        assert_close(w.lo, c.wald.0, c.name);
        assert_close(w.hi, c.wald.1, c.name);
        assert_close(r.effective_trials, c.n_eff, c.name);
        assert_close(r.design_effect, r.trials as f64 / c.n_eff, c.name);
        let w = r.wilson_interval(0.95);
        assert_close(w.lo, c.wilson.0, c.name);
        assert_close(w.hi, c.wilson.1, c.name);
    }
}

struct McNemarCase {
    name: &'static str,
    /// The table `[[a, b], [c, d]]`: only `b` and `c` matter.
    b: u64,
    c: u64,
    /// `mcnemar(table, exact=True).pvalue`
    exact: f64,
    /// `mcnemar(table, exact=False, correction=True)`: statistic, pvalue
    chi2_cc: (f64, f64),
    /// `mcnemar(table, exact=False, correction=False)`: statistic, pvalue
    chi2: (f64, f64),
}

const MCNEMAR_CASES: &[McNemarCase] = &[
    // Agresti, *An Introduction to Categorical Data Analysis* (2nd ed., 2007), Table 8.1:
    // approval of the President's performance in two surveys a month apart, 1600 people
    // (794 approve both times, 150 approve then disapprove, 86 the reverse, 570 disapprove
    // both). Agresti §8.1.1 gives z = (86 - 150)/√(86 + 150) = -4.17, z² = 17.36
    // (the uncorrected statistic below), P < 0.0001.
    McNemarCase {
        name: "agresti_approval",
        b: 150,
        c: 86,
        exact: 3.7159361395713866e-05,
        chi2_cc: (16.81779661016949, 4.114562281345944e-05),
        chi2: (17.35593220338983, 3.099293441045215e-05),
    },
    McNemarCase {
        name: "small",
        b: 1,
        c: 6,
        exact: 0.125,
        chi2_cc: (2.2857142857142856, 0.13057001811573693),
        chi2: (3.5714285714285716, 0.05878172135535891),
    },
    McNemarCase {
        name: "zero_one_side",
        b: 0,
        c: 7,
        exact: 0.015625,
        chi2_cc: (5.142857142857143, 0.02334220201289086),
        chi2: (7.0, 0.008150971593502705),
    },
    McNemarCase {
        name: "ties",
        b: 9,
        c: 9,
        exact: 1.0,
        chi2_cc: (0.05555555555555555, 0.8136637157667919),
        chi2: (0.0, 1.0),
    },
    McNemarCase {
        name: "large",
        b: 130,
        c: 95,
        exact: 0.023197506839685394,
        chi2_cc: (5.137777777777778, 0.02341059616111667),
        chi2: (5.444444444444445, 0.019630657257290702),
    },
];

#[test]
fn mcnemar_matches_statsmodels() {
    for c in MCNEMAR_CASES {
        assert_close(mcnemar_exact(c.b, c.c), c.exact, c.name);
        let (stat, p) = mcnemar_chi2(c.b, c.c, true);
        assert_close(stat, c.chi2_cc.0, c.name);
        assert_close(p, c.chi2_cc.1, c.name);
        let (stat, p) = mcnemar_chi2(c.b, c.c, false);
        assert_close(stat, c.chi2.0, c.name);
        assert_close(p, c.chi2.1, c.name);
    }
}

#[test]
fn agresti_textbook_statistic() {
    // Agresti (2007) §8.1.1, to the two decimals printed: z² = 17.36.
    let (stat, p) = mcnemar_chi2(150, 86, false);
    assert!((stat - 17.36).abs() < 0.005);
    assert!(p < 1e-4);
}

#[test]
fn clustered_mcnemar_matches_scipy_sign_flip() {
    // `scipy.stats.permutation_test((d,), lambda x, axis: np.sum(x, axis=axis),
    //  permutation_type="samples", n_resamples=np.inf, alternative="two-sided").pvalue`
    let cases: &[(&str, &[i64], f64)] = &[
        ("rows_mixed", &[3, -1, 2, 2, 0, -4, 1, 5, 2], 0.28125),
        ("rows_balanced", &[2, -2, 1, -1, 3, -2], 1.0),
        (
            "rows_many",
            &[1, 2, 0, 3, 1, -1, 2, 4, 1, 0, 2, -2, 3, 1, 1, 2],
            0.0096435546875,
        ),
    ];
    for &(name, rows, p) in cases {
        let t = clustered_mcnemar(rows);
        assert_eq!(t.method, PairedMethod::SignFlipExact, "{name}");
        assert_close(t.p_value, p, name);
    }
    // One pair per row: the sign-flip test is McNemar's exact test (agresti_approval).
    let rows: Vec<i64> = std::iter::repeat_n(1, 150)
        .chain(std::iter::repeat_n(-1, 86))
        .chain(std::iter::repeat_n(0, 1364))
        .collect();
    let t = clustered_mcnemar(&rows);
    assert_eq!(t.method, PairedMethod::ExactBinomial);
    assert_close(t.p_value, 3.7159361395713866e-05, "agresti rows");
}

#[test]
fn holm_matches_statsmodels() {
    // `multipletests(p, method="holm")[1]`
    let cases: &[(&[f64], &[f64])] = &[
        (
            &[0.01, 0.04, 0.03, 0.005, 0.2],
            &[0.04, 0.09, 0.09, 0.025, 0.2],
        ),
        (&[0.02, 0.02, 0.5, 0.001], &[0.06, 0.06, 0.5, 0.004]),
        (&[0.3, 0.6, 0.9], &[0.8999999999999999, 1.0, 1.0]),
    ];
    for &(p, expected) in cases {
        let got = holm_adjust(p);
        for (g, e) in got.iter().zip(expected) {
            assert_close(*g, *e, &format!("holm {p:?}"));
        }
    }
}
