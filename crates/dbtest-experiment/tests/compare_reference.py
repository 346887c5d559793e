#!/usr/bin/env python3
"""Print the expected values of the unit tests in src/compare.rs (statsmodels 0.15.0, SciPy 1.17.1).

    python3 -m venv /tmp/statsvenv && /tmp/statsvenv/bin/pip install statsmodels scipy
    /tmp/statsvenv/bin/python crates/dbtest-experiment/tests/compare_reference.py

A case is one string per configuration, a letter per sample index: S success, F failure,
E error (not a trial).
"""

import numpy as np
import scipy.stats as st
import statsmodels.api as sm
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

CASES = {
    "clustered": (4, {"a": "SSSSSSFSSSSS", "b": "SFSFSFSFFFSF", "c": "SSFSSSSSESSF"}),
    "no_dataset": (None, {
        "x": "SSSSSSSSSFSSSSSSSSSSSSFSSSSSSS",
        "y": "SFSSFSSSSFSFSSFSSSFSSSFSSFSSFS",
        "z": "SSSSSSSSFFSSSSSSSSSSSSFSSSSSFS",
    }),
}


def rate(s, rows):
    idx = [i for i, ch in enumerate(s) if ch != "E"]
    y = np.array([1.0 if s[i] == "S" else 0.0 for i in idx])
    g = np.array([i % rows if rows else i for i in idx])
    p = y.mean()
    n = len(y)
    if len(set(g)) == n or p in (0.0, 1.0):
        n_eff = n
    else:
        res = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": g})
        n_eff = min(n, 1 + p * (1 - p) / res.bse[0] ** 2)
    lo, hi = proportion_confint(p * n_eff, n_eff, alpha=0.05, method="wilson")
    return p, n_eff, lo, hi


for name, (rows, cfgs) in CASES.items():
    print(f"== {name}")
    rates = {k: rate(v, rows) for k, v in cfgs.items()}
    for k, r in rates.items():
        print(f"{k}: rate={r[0]!r} n_eff={r[1]!r} wilson95=({r[2]!r}, {r[3]!r})")
    best = max(cfgs, key=lambda k: rates[k][0])
    ps = {}
    for k, v in cfgs.items():
        if k == best:
            continue
        bs = cfgs[best]
        pairs = [i for i in range(len(v)) if v[i] != "E" and bs[i] != "E"]
        b = sum(bs[i] == "S" and v[i] == "F" for i in pairs)
        c = sum(bs[i] == "F" and v[i] == "S" for i in pairs)
        if rows:
            d = {}
            for i in pairs:
                d[i % rows] = d.get(i % rows, 0) + (bs[i] == "S") - (v[i] == "S")
            r = st.permutation_test((np.array(list(d.values()), dtype=float),),
                                    lambda x, axis: np.sum(x, axis=axis), permutation_type="samples",
                                    n_resamples=np.inf, alternative="two-sided")
            p = r.pvalue
            how = f"permutation_test(row sums {list(d.values())})"
        else:
            p = mcnemar([[0, b], [c, 0]], exact=True).pvalue
            how = "mcnemar(exact=True)"
        ps[k] = p
        print(f"{best} vs {k}: pairs={len(pairs)} b={b} c={c} p={p!r} [{how}]")
    holm = multipletests(list(ps.values()), method="holm")[1]
    print("holm:", dict(zip(ps, map(float, holm))))
