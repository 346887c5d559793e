#!/usr/bin/env python3
"""Coverage side by side (issue 22, DESIGN section 4d): ``pytest --cov=PKG`` (pytest-cov)
against ``dbtest unit --cov=PKG`` on the unmodified suites of public packages, in one run:
wall time of each, and the executed lines and branches of every measured file compared.

Stdlib only; the set-up (sdists, one venv per package, the dbtest wheel) is
compare_suites.py's. Each round runs pytest-cov, dbtest in-process and dbtest with
``--workers 2``, alternating, and writes each tool's coverage.py JSON report.

    python3 benches/compare_cov.py --wheel target/wheels/dbtest_engine-*.whl --rounds 3 --write

See benches/README.md ("compare_cov.py").
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compare_suites as suites  # same folder: sdists, venvs, the wheel, timed runs

COVERAGE_DEPS = ("pytest-cov==7.1.0", "coverage==7.18.0")


def _packages() -> list[tuple[suites.Package, str]]:
    """(package, what --cov measures) for each suite compared."""
    wanted = {"toolz": "toolz", "click": "click", "itsdangerous": "itsdangerous", "markupsafe": "markupsafe"}
    out = []
    for pkg in suites.PACKAGES:
        if pkg.name in wanted:
            pkg = dataclasses.replace(pkg, deps=(*pkg.deps, *COVERAGE_DEPS))
            out.append((pkg, wanted[pkg.name]))
    return out


def executed(report: Path) -> dict[str, tuple[list[int], list[list[int]]]] | None:
    if not report.is_file():
        return None
    files = json.loads(report.read_text())["files"]
    return {name: (f["executed_lines"], sorted(f.get("executed_branches", []))) for name, f in files.items()}


def totals(report: Path) -> tuple[int, int] | None:
    if not report.is_file():
        return None
    t = json.loads(report.read_text())["totals"]
    return t["covered_lines"], t["num_statements"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, help="dbtest wheel (built with maturin if not given)")
    ap.add_argument("--maturin", help="maturin to build the wheel with")
    ap.add_argument("--work-dir", type=Path, default=HERE / ".suites", help="sdists and venvs (shared "
                    "with compare_suites.py)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", help="comma-separated package names")
    ap.add_argument("--branch", action="store_true", help="--cov-branch for both tools")
    ap.add_argument("--write", action="store_true", help="write benches/results/cov.{md,json}")
    args = ap.parse_args()
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    lock = suites.lock_work_dir(work, suites.log)  # noqa: F841 - held for the run
    wheel = args.wheel or suites.build_wheel(work, suites.find_maturin(args.maturin), suites.log)
    requires = suites.wheel_requires(wheel)
    only = set(args.only.split(",")) if args.only else None
    rows: list[dict[str, Any]] = []
    for pkg, source in _packages():
        if only and pkg.name not in only:
            continue
        suites.log(f"== {pkg.key}")
        sdist = suites.download_sdist(pkg, work)
        root = suites.unpack(sdist, pkg, work)
        suites.stop_config_search(root)
        venv = suites.ensure_venv(pkg, sdist, requires, work, suites.PYTEST, suites.log)
        suites.install_dbtest(venv, wheel)
        env = {**suites.base_env(), **dict(pkg.env)}
        env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
        env["VIRTUAL_ENV"] = str(venv)
        branch = ("--cov-branch",) if args.branch else ()
        out = work / "cov" / pkg.key
        out.mkdir(parents=True, exist_ok=True)
        commands = {
            "pytest-cov": [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *pkg.pytest_args, f"--cov={source}", *branch, pkg.tests],
            "dbtest": [str(venv / "bin" / "dbtest"), "unit", "-q", f"--cov={source}", *branch, pkg.tests],
            "dbtest -w 2": [str(venv / "bin" / "dbtest"), "unit", "-q", f"--cov={source}", *branch,
                            "--workers", "2", pkg.tests],
        }
        times: dict[str, list[float]] = {tool: [] for tool in commands}
        same: dict[str, bool] = {}
        reports: dict[str, Path] = {}
        for rnd in range(args.rounds):
            for tool, argv in commands.items():
                report = out / f"{tool.replace(' ', '')}-{rnd}.json"
                report.unlink(missing_ok=True)
                seconds, rc, timed_out, text = suites.timed([*argv, f"--cov-report=json:{report}"], root, env, 1800)
                suites.log(f"  round {rnd + 1} {tool}: {seconds:.2f} s, exit {rc}")
                if rc not in (0, 1) or timed_out or not report.is_file():
                    suites.log(suites.tail(text))
                times[tool].append(seconds)
                reports[tool] = report
            base = executed(reports["pytest-cov"])
            for tool in ("dbtest", "dbtest -w 2"):
                same[tool] = same.get(tool, True) and base is not None and executed(reports[tool]) == base
        medians = {tool: statistics.median(t) for tool, t in times.items()}
        rows.append({
            "package": pkg.key, "measured": source, "branch": args.branch,
            "median_s": medians, "times_s": times,
            "covered_statements": {tool: totals(reports[tool]) for tool in commands},
            "same_as_pytest_cov": same,
        })
    text = render(rows, args)
    print(text)
    if args.write:
        results = HERE / "results"
        (results / "cov.md").write_text(text)
        (results / "cov.json").write_text(json.dumps({"rows": rows, "machine": machine()}, indent=1) + "\n")
    return 0


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "load": os.getloadavg(), "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}


def render(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    m = machine()
    lines = [
        "# Coverage: dbtest unit --cov vs pytest --cov (pytest-cov)",
        "",
        f"{len(rows)} suites, {args.rounds} rounds, median wall time; {'lines and branches' if args.branch else 'lines'}"
        f" compared file by file in coverage.py's JSON reports. Python {m['python']}, {m['cpus']} CPUs, "
        f"load {m['load'][0]:.2f} at the end, {m['date']}.",
        "",
        "| suite | pytest-cov | dbtest --cov | ratio | dbtest --cov -w 2 | ratio | covered (pytest-cov) | same lines |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    total = {"pytest-cov": 0.0, "dbtest": 0.0, "dbtest -w 2": 0.0}
    for r in rows:
        med = r["median_s"]
        for tool in total:
            total[tool] += med[tool]
        cov = r["covered_statements"]["pytest-cov"]
        same = " / ".join(f"{tool}: {'yes' if ok else 'NO'}" for tool, ok in r["same_as_pytest_cov"].items())
        lines.append(
            f"| {r['package']} | {med['pytest-cov']:.2f} s | {med['dbtest']:.2f} s | "
            f"{med['dbtest'] / med['pytest-cov']:.2f}x | {med['dbtest -w 2']:.2f} s | "
            f"{med['dbtest -w 2'] / med['pytest-cov']:.2f}x | {cov[0]}/{cov[1]} | {same} |"
        )
    if rows:
        lines.append(
            f"| **sum** | {total['pytest-cov']:.2f} s | {total['dbtest']:.2f} s | "
            f"**{total['dbtest'] / total['pytest-cov']:.2f}x** | {total['dbtest -w 2']:.2f} s | "
            f"**{total['dbtest -w 2'] / total['pytest-cov']:.2f}x** | | |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
