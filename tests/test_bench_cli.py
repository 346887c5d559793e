"""`dbtest bench` end to end: the report a user reads, the JSON a script reads, saved runs
and the regression gate, and bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data" / "bench"
FAST = ["--max-time", "0.2", "--min-round-time", "0.002", "--warmup", "1"]


def bench(cwd: Path, *args: str, scale: float = 1.0) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SAMPLE_WORK_SCALE=str(scale), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "dbtest", "bench", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(DATA, tmp_path / "proj")
    return tmp_path / "proj"


def by_id(report: dict) -> dict[str, dict]:
    return {f"{b['group']}::{b['name']}" + (f"[{b['params']}]" if b["params"] else ""): b for b in report["benchmarks"]}


def test_every_benchmark_is_measured_and_a_raising_one_is_reported(project: Path) -> None:
    run = bench(project, *FAST, "--json", "out.json", "--markdown", "out.md")
    assert run.returncode == 1, run.stdout + run.stderr  # bench_raises failed
    report = json.loads((project / "out.json").read_text())
    assert report["schema"] == "dbtest.bench/1"
    assert {"python", "platform", "cpu", "commit"} <= set(report["environment"])
    assert report["settings"]["gc_disabled"] is False
    assert report["timer"]["resolution_s"] > 0 and report["timer"]["overhead_s"] > 0
    results = by_id(report)
    assert set(results) == {
        "work::short", "work::long", "work::sized[1]", "work::sized[2]",
        "bench_sample::bench_noop", "bench_sample::bench_async_sleep0", "bench_sample::bench_raises",
    }
    failed = results["bench_sample::bench_raises"]
    assert failed["stats"] is None
    assert "ZeroDivisionError: division by zero, on purpose" in failed["error"]["message"]
    assert "bench_sample.py" in failed["error"]["traceback"]
    for key, b in results.items():
        if key.endswith("bench_raises"):
            continue
        s = b["stats"]
        assert len(b["rounds"]) >= 5 and s["n"] == len(b["rounds"])
        assert s["min"] <= s["q1"] <= s["median"] <= s["q3"] <= s["max"]
        assert s["median_ci"]["lo"] <= s["median"] <= s["median_ci"]["hi"]
        assert s["ops"] == pytest.approx(1 / s["median"])
    assert any(w.startswith("too fast to resolve") for w in results["bench_sample::bench_noop"]["warnings"])
    out = run.stdout
    assert "work (relative to short)" in out
    assert "baseline" in out and "x slower" in out
    assert "ERROR benches/bench_sample.py::bench_sample::bench_raises" in out
    assert "\x1b[" not in out
    md = (project / "out.md").read_text()
    assert "### work" in md and "| `long` |" in md


def test_a_filter_selects_benchmarks(project: Path) -> None:
    run = bench(project, *FAST, "-k", "*work::long*", "--json", "out.json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert list(by_id(json.loads((project / "out.json").read_text()))) == ["work::long"]


def test_the_gate_catches_a_slowdown_and_passes_the_same_code(project: Path) -> None:
    saved = bench(project, *FAST, "-k", "*work::short*", "--save", "base")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert (project / ".dbtest" / "bench" / "base.json").is_file()
    slower = bench(project, *FAST, "-k", "*work::short*", "--compare", "base", "--fail-on-regression", "5", scale=3.0)
    assert slower.returncode == 1, slower.stdout + slower.stderr
    assert "REGRESSION" in slower.stdout
    # Without a threshold the comparison is reported but never fails the run.
    reported = bench(project, *FAST, "-k", "*work::short*", "--compare", "base", scale=3.0)
    assert reported.returncode == 0, reported.stdout + reported.stderr
    assert "slower" in reported.stdout


def test_a_missing_saved_run_is_a_usage_error(project: Path) -> None:
    run = bench(project, "--compare", "nope")
    assert run.returncode == 4
    assert 'no saved run "nope"' in run.stderr and "dbtest bench --save nope" in run.stderr


def test_fail_on_regression_needs_a_comparison(project: Path) -> None:
    run = bench(project, "--fail-on-regression", "5")
    assert run.returncode == 4
    assert "--compare" in run.stderr


def test_no_benchmarks_exits_5(tmp_path: Path) -> None:
    (tmp_path / "benches").mkdir()
    run = bench(tmp_path)
    assert run.returncode == 5, run.stdout + run.stderr


def test_a_broken_file_is_reported_and_the_others_run(project: Path) -> None:
    (project / "benches" / "bench_broken.py").write_text("def bench_x(:\n    pass\n")
    run = bench(project, *FAST, "-k", "*long*", "--json", "out.json")
    assert run.returncode == 1
    report = json.loads((project / "out.json").read_text())
    assert [e["file"] for e in report["errors"]] == ["benches/bench_broken.py"]
    assert "SyntaxError" in report["errors"][0]["message"]
    assert list(by_id(report)) == ["work::long"]
