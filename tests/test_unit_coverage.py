"""`dbtest unit --cov` (DESIGN section 4d) over tests/data/coverage, whose package is reached
from a sync test, a thread a test starts, overlapping async tests and a subprocess: the lines
and branches recorded are coverage.py's own, the same as pytest-cov records, in-process, with
workers and across shards."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from _e2e import base_env, copy_project, run_dbtest

GEOMETRY = "shapes/geometry.py"
REPORT = "shapes/report.py"
COV = ("--cov=shapes", "--cov-branch")


def _executed(report_path: Path) -> dict[str, tuple[list[int], list[list[int]]]]:
    data = json.loads(report_path.read_text())
    return {
        name: (entry["executed_lines"], sorted(entry["executed_branches"]))
        for name, entry in data["files"].items()
    }


@pytest.fixture(scope="module")
def pytest_cov(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What pytest with pytest-cov records on the same project."""
    project = copy_project("coverage", tmp_path_factory.mktemp("pytest-cov"))
    out = project / "pytest-cov.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *COV, f"--cov-report=json:{out}"],
        cwd=project, env=base_env(project), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return _executed(out)


def _dbtest_cov(tmp_path: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    project = copy_project("coverage", tmp_path)
    out = project / "dbtest-cov.json"
    run = run_dbtest(project, *COV, f"--cov-report=json:{out}", *args)
    run.expect_code(0)
    return run, _executed(out)


def test_in_process_records_what_pytest_cov_records(tmp_path: Path, pytest_cov: dict[str, Any]) -> None:
    run, executed = _dbtest_cov(tmp_path)
    assert executed == pytest_cov
    lines = executed[GEOMETRY][0]
    # The thread a test starts, the coroutine on the run's loop, and the sync tests' lines
    # (on the engine's threads) all count; the function no test calls does not.
    assert {17, 19, 20, 21, 22} <= set(lines), lines
    assert {26, 27, 29} <= set(lines), lines
    assert {6, 7, 8, 9, 10} <= set(lines), lines
    assert 33 not in lines
    # The subprocess a test started was measured too (coverage.py's `patch = subprocess`).
    assert {5, 6, 7, 11, 12} <= set(executed[REPORT][0]), executed[REPORT]
    # Only the report asked for: a JSON file, no terminal table.
    assert "Coverage JSON written to file" in run.stdout and "TOTAL" not in run.stdout
    assert run.lines[-1] == "7 passed, 0 failed, 0 skipped"


def test_workers_record_the_same_combined(tmp_path: Path, pytest_cov: dict[str, Any]) -> None:
    run, executed = _dbtest_cov(tmp_path, "--workers", "2")
    assert executed == pytest_cov
    # Each worker's data file was combined into one, and nothing is left behind.
    leftovers = [p.name for p in run.cwd.iterdir() if p.name.startswith(".coverage.")]
    assert leftovers == [], leftovers


def test_fail_under_fails_the_run_and_says_so(tmp_path: Path) -> None:
    project = copy_project("coverage", tmp_path)
    run = run_dbtest(project, "--cov=shapes", "--cov-fail-under=100")
    run.expect_code(1)
    assert "FAIL Required test coverage of 100% not reached. Total coverage:" in run.stdout
    # The tests themselves all passed; the closing line is still the last.
    assert run.lines[-1] == "7 passed, 0 failed, 0 skipped"
    passed = run_dbtest(project, "--cov=shapes", "--cov-fail-under=50")
    passed.expect_code(0)
    assert "Required test coverage of 50% reached." in passed.stdout


def test_addopts_turn_coverage_on_and_no_cov_off(tmp_path: Path) -> None:
    project = copy_project("coverage", tmp_path)
    config = project / "pyproject.toml"
    config.write_text(config.read_text().replace(
        'testpaths = ["tests"]', 'testpaths = ["tests"]\naddopts = "--cov=shapes --cov-report=term-missing"'
    ))
    run = run_dbtest(project)
    run.expect_code(0)
    assert "Missing" in run.stdout and "TOTAL" in run.stdout, run.describe()
    assert "ignored" not in run.stderr, run.stderr
    off = run_dbtest(project, "--no-cov")
    off.expect_code(0)
    assert "TOTAL" not in off.stdout


def test_shards_combine_in_report_merge(tmp_path: Path, pytest_cov: dict[str, Any]) -> None:
    """Each shard keeps its own data (as each CI job would upload it); `dbtest report merge
    --cov` combines them into what one run records. The shards run in one checkout, one
    after the other, as CI jobs run in checkouts at the same path."""
    project = copy_project("coverage", tmp_path)
    for k in (1, 2):
        run = run_dbtest(project, *COV, f"--shard={k}/2")
        run.expect_code(0)
        (project / f"shard{k}.json").write_text(json.dumps(run.report))
    kept = sorted(p.name for p in project.iterdir() if p.name.startswith(".coverage"))
    assert kept == [".coverage.shard-1-of-2", ".coverage.shard-2-of-2"], kept
    out = project / "merged.json"
    proc = subprocess.run(
        [sys.executable, "-m", "dbtest", "report", "merge", "shard1.json", "shard2.json", "--cov",
         "--cov-report", f"json:{out}", "--cov-fail-under", "100"],
        cwd=project, env=base_env(project), capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # 100% is not reached
    assert "FAIL Required test coverage of 100% not reached" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == "7 passed, 0 failed, 0 skipped"
    assert _executed(out) == pytest_cov


def test_a_bad_coverage_config_is_named_before_any_test_runs(tmp_path: Path) -> None:
    project = copy_project("coverage", tmp_path)
    (project / "cov.ini").write_text("[run]\nbranch = maybe\n")
    run = run_dbtest(project, "--cov=shapes", "--cov-config=cov.ini")
    run.expect_code(4)
    # The file, the line and the setting, before any test ran (no report was written).
    assert "cov.ini:2: branch = maybe" in run.stderr, run.describe()
    assert run.report is None
    (project / "cov.ini").write_text("[run]\nbranch\n")
    broken = run_dbtest(project, "--cov=shapes", "--cov-config=cov.ini")
    broken.expect_code(4)
    assert "cov.ini" in broken.stderr and re.search(r"line\s+2\b", broken.stderr), broken.describe()


def test_cov_without_coverage_installed_names_the_extra(tmp_path: Path) -> None:
    project = copy_project("coverage", tmp_path)
    # A startup hook that makes `import coverage` fail, as in an environment without it.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoCoverage:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'coverage' or name.startswith('coverage.'):\n"
        "            raise ImportError('No module named ' + repr(name))\n"
        "sys.meta_path.insert(0, _NoCoverage())\n"
    )
    env = base_env(project, PYTHONPATH=str(hide) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = run_dbtest(project, "--cov=shapes", env=env)
    run.expect_code(4)
    assert "pip install 'dbtest-engine[cov]'" in run.stderr, run.describe()


def test_per_test_contexts_name_the_test_that_ran_each_line(tmp_path: Path) -> None:
    project = copy_project("coverage", tmp_path)
    run = run_dbtest(project, "--cov=shapes", "--cov-context=test", "--cov-report=")
    run.expect_code(0)
    probe = (
        "import coverage, json, os; d = coverage.CoverageData(); d.read(); "
        "by_line = d.contexts_by_lineno(os.path.abspath('shapes/geometry.py')); "
        "print(json.dumps({str(k): sorted(v) for k, v in by_line.items()}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, check=True)
    contexts = json.loads(out.stdout)
    # The thread's line is the test's that started the thread; the coroutine's, the async test's.
    assert contexts["20"] == ["tests/test_thread.py::test_perimeter_from_a_thread_the_test_starts|run"]
    assert contexts["29"] == ["tests/test_async.py::test_scaled|run"]
    assert contexts["28"] == ["tests/test_async.py::test_scaled_negative|run"]
