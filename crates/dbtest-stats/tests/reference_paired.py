#!/usr/bin/env python3
"""Print the reference values of tests/paired_reference.rs (clustered rates, McNemar, Holm).

The numbers are pasted into the Rust test as literals next to the call that produced them:

    python3 -m venv /tmp/statsvenv && /tmp/statsvenv/bin/pip install statsmodels scipy
    /tmp/statsvenv/bin/python crates/dbtest-stats/tests/reference_paired.py
"""

import numpy as np
import scipy
import scipy.stats as st
import statsmodels
import statsmodels.api as sm
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

print(f"# scipy {scipy.__version__}, statsmodels {statsmodels.__version__}")

# ---- clustered rates: per-cluster (successes, trials), expanded to 0/1 rows with groups
CLUSTERS = {
    "mixed_rows": [(3, 4), (4, 4), (0, 4), (2, 4), (4, 4), (1, 4)],
    "unequal_rows": [(5, 5), (2, 3), (7, 10), (0, 2), (9, 9), (3, 6), (1, 1)],
    "near_one": [(30, 30)] * 9 + [(28, 30)],
}
for name, cl in CLUSTERS.items():
    y = np.concatenate([[1.0] * s + [0.0] * (n - s) for s, n in cl])
    g = np.concatenate([[i] * n for i, (_, n) in enumerate(cl)])
    res = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": g})
    lo, hi = res.conf_int(alpha=0.05)[0]
    v = res.bse[0] ** 2
    p = res.params[0]
    n_eff = 1 + p * (1 - p) / v
    wl, wh = proportion_confint(p * n_eff, n_eff, alpha=0.05, method="wilson")
    print(f"{name}: p={p!r} V={v!r} wald95=({lo!r}, {hi!r}) n_eff={n_eff!r} wilson95_neff=({wl!r}, {wh!r})")

# ---- McNemar
TABLES = {
    "agresti_approval": [[794, 150], [86, 570]],
    "small": [[10, 1], [6, 12]],
    "zero_one_side": [[40, 0], [7, 3]],
    "ties": [[5, 9], [9, 5]],
    "large": [[300, 130], [95, 475]],
}
for name, t in TABLES.items():
    e = mcnemar(t, exact=True)
    c = mcnemar(t, exact=False, correction=True)
    u = mcnemar(t, exact=False, correction=False)
    print(f"{name}: exact p={e.pvalue!r}  chi2cc stat={c.statistic!r} p={c.pvalue!r}  chi2 stat={u.statistic!r} p={u.pvalue!r}")

# ---- clustered (sign-flip) McNemar
ROWS = {
    "rows_mixed": [3, -1, 2, 2, 0, -4, 1, 5, 2],
    "rows_balanced": [2, -2, 1, -1, 3, -2],
    "rows_many": [1, 2, 0, 3, 1, -1, 2, 4, 1, 0, 2, -2, 3, 1, 1, 2],
}
for name, d in ROWS.items():
    r = st.permutation_test((np.array(d, dtype=float),), lambda x, axis: np.sum(x, axis=axis),
                            permutation_type="samples", n_resamples=np.inf, alternative="two-sided")
    print(f"{name}: sign-flip p={r.pvalue!r}")

# ---- Holm
PS = {
    "five": [0.01, 0.04, 0.03, 0.005, 0.2],
    "ties": [0.02, 0.02, 0.5, 0.001],
    "caps": [0.3, 0.6, 0.9],
}
for name, p in PS.items():
    print(f"{name}: holm={list(multipletests(p, method='holm')[1])!r}")
