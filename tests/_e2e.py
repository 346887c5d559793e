"""Helpers of the end-to-end tests: copy a sample project from tests/data/ into a temporary
folder, run `python -m dbtest unit ...` on it in a subprocess, and read what it produced."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"

# Upper bounds only: a run that takes longer than this is stuck, not slow.
RUN_TIMEOUT_S = 60.0

OUTCOMES = (
    "passed", "failed", "error", "skipped", "xfailed", "xpassed", "timeout", "crashed", "inconclusive",
)
SUMMARY_KEYS = {"total", *OUTCOMES, "flaky"}
TOP_KEYS = {"schema", "command", "started_at", "duration_s", "summary", "tests"}
TEST_KEYS = {
    "id", "file", "line", "name", "suite", "params", "tags", "outcome", "duration_s", "attempts",
    "message", "traceback", "stdout", "stderr",
}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Every test of tests/data/outcomes, and its outcome.
OUTCOMES_EXPECTED = {
    # a parent conftest.py fixture, and a sibling helper module
    "sub/test_child.py::test_uses_parent_conftest": "passed",
    "sub/test_child.py::test_uses_sibling_helper": "passed",
    # the same file name as test_basic.py, in another folder
    "sub/test_basic.py::test_same_basename": "passed",
    # passed and failed
    "test_basic.py::test_passes": "passed",
    "test_basic.py::test_async_passes": "passed",
    "test_basic.py::test_fails": "failed",
    # errors of fixtures
    "test_errors.py::test_missing_fixture": "error",
    "test_errors.py::test_setup_raises": "error",
    "test_errors.py::test_teardown_raises": "error",
    # fixture scopes; a yield fixture's teardown runs when the test fails
    "test_fixture_scopes.py::test_file_fixture_one": "passed",
    "test_fixture_scopes.py::test_file_fixture_two": "passed",
    "test_fixture_scopes.py::test_file_fixture_async": "passed",
    "test_fixture_scopes.py::test_yield_teardown_runs_on_failure": "failed",
    # files that cannot be imported: one error each, id = the file's path
    "test_import_error.py": "error",
    "test_syntax_error.py": "error",
    # parametrize: with ids, without ids, stacked
    "test_params.py::test_add[small]": "passed",
    "test_params.py::test_add[big]": "passed",
    "test_params.py::test_plain_ids[1-2]": "passed",
    "test_params.py::test_plain_ids[2-3]": "passed",
    "test_params.py::test_stacked[p-1]": "passed",
    "test_params.py::test_stacked[p-2]": "passed",
    "test_params.py::test_stacked[q-1]": "passed",
    "test_params.py::test_stacked[q-2]": "passed",
    # a pytest-style file without `import dbtest`
    "test_plain_pytest.py::test_plain_function": "passed",
    "test_plain_pytest.py::TestPlainClass::test_method": "passed",
    "test_plain_pytest.py::TestPlainClass::test_method_fails": "failed",
    # a session-scoped async fixture shared by two files
    "test_session_a.py::test_session_in_a": "passed",
    "test_session_b.py::test_session_in_b": "passed",
    "test_session_b.py::test_session_from_sync": "passed",
    # skips
    "test_skips.py::test_skip_decorator": "skipped",
    "test_skips.py::test_skip_if_true": "skipped",
    "test_skips.py::test_skip_if_false": "passed",
    "test_skips.py::test_skip_inside": "skipped",
    "test_skips.py::test_skip_inside_async": "skipped",
    # suites, sync and async hooks, tags
    "test_suite.py::TestSyncSuite::test_first": "passed",
    "test_suite.py::TestSyncSuite::test_second": "passed",
    "test_suite.py::TestAsyncSuite::test_uses_fixture": "passed",
    "test_suite.py::test_tagged_function": "passed",
    "test_suite.py::test_slow_function": "passed",
    "test_suite.py::test_flaky_function": "passed",
    # timeouts
    "test_timeout.py::test_times_out": "timeout",
    "test_timeout.py::test_within_timeout": "passed",
    # xfail
    "test_xfail.py::test_xfailed": "xfailed",
    "test_xfail.py::test_xpassed": "xpassed",
    "test_xfail.py::test_strict_xpass": "failed",
    "test_xfail.py::test_xfailed_async": "xfailed",
}

# Every test of tests/data/selection.
SELECTION_ALL = {
    "test_other.py::test_other_db",
    "test_other.py::test_other_plain",
    "test_sel.py::test_alpha",
    "test_sel.py::test_alphabet",
    "test_sel.py::test_beta",
    "test_sel.py::test_param[one]",
    "test_sel.py::test_param[two]",
    "test_sel.py::test_db_crud",
    "test_sel.py::test_db_slow",
    "test_sel.py::test_flaky_only",
    "test_sel.py::TestGroup::test_one",
    "test_sel.py::TestGroup::test_two",
}

_COLOUR_ENV = ("NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "PY_COLORS")


def copy_project(name: str, dest: Path) -> Path:
    """A fresh copy of tests/data/<name> at dest/<name>, so runs never touch the originals."""
    target = dest / name
    shutil.copytree(DATA / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.log"))
    return target


def base_env(cwd: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _COLOUR_ENV}
    env["SAMPLE_OUT"] = str(cwd)  # where sample tests leave evidence (see tests/data/*/)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COLUMNS"] = "120"
    env.update(extra)
    return env


def dbtest_cmd(*args: str, python: str = sys.executable) -> list[str]:
    return [python, "-m", "dbtest", "unit", *args]


@dataclass
class Run:
    args: list[str]
    code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None
    cwd: Path
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.report is not None:
            self.by_id = {t["id"]: t for t in self.report["tests"]}

    @property
    def outcomes(self) -> dict[str, str]:
        assert self.report is not None, f"no JSON report\n{self.describe()}"
        return {t["id"]: t["outcome"] for t in self.report["tests"]}

    @property
    def ids(self) -> set[str]:
        return set(self.outcomes)

    @property
    def lines(self) -> list[str]:
        return self.stdout.rstrip("\n").splitlines()

    def describe(self) -> str:
        """For assertion messages: what was run and what it printed."""
        crashed = ""
        if self.code < 0:
            crashed = f" (the dbtest process was killed by signal {-self.code}: it crashed)"
        return (
            f"$ dbtest unit {' '.join(self.args)}  (cwd {self.cwd})\nexit code {self.code}{crashed}\n"
            f"--- stdout (tail) ---\n{self.stdout[-3000:]}\n--- stderr (tail) ---\n{self.stderr[-3000:]}"
        )

    def expect_code(self, code: int) -> None:
        assert self.code == code, f"expected exit code {code}\n{self.describe()}"


def run_dbtest(
    cwd: Path,
    *args: str,
    json_report: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = RUN_TIMEOUT_S,
    python: str = sys.executable,
) -> Run:
    """Runs `python -m dbtest unit ARGS --json <cwd>/../report.json` in cwd."""
    argv = list(args)
    report_path = None
    if json_report:
        report_path = cwd.parent / f"report-{time.monotonic_ns()}.json"
        argv += ["--json", str(report_path)]
    proc = subprocess.run(
        dbtest_cmd(*argv, python=python),
        cwd=cwd,
        env=env if env is not None else base_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    report = None
    if report_path is not None and report_path.exists():
        report = json.loads(report_path.read_text(encoding="utf-8"))
    return Run(argv, proc.returncode, proc.stdout, proc.stderr, report, cwd)


def closing_line(summary: dict[str, int]) -> str:
    """The contract's last console line: failed counts every outcome but passed, skipped, xfailed."""
    failed = summary["total"] - summary["passed"] - summary["skipped"] - summary["xfailed"]
    return f"{summary['passed']} passed, {failed} failed, {summary['skipped']} skipped"


def expected_summary(outcomes: dict[str, str], flaky: int = 0) -> dict[str, int]:
    counts = Counter(outcomes.values())
    summary = {name: counts.get(name, 0) for name in OUTCOMES}
    summary["total"] = len(outcomes)
    summary["flaky"] = flaky
    return summary


def log_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []
