"""A pytest plugin that records every test's final outcome, for benches/compare_suites.py.

Loaded with ``-p suites_pytest_outcomes`` (the folder holding this file on PYTHONPATH); it
writes ``{"tests": [{"id", "outcome", "message"}, ...], "deselected": [id, ...]}`` to the path in the environment
variable ``SUITES_OUTCOMES_JSON`` when the session ends. Stdlib and pytest's hooks only.

Outcomes use dbtest's names (DESIGN section 4):

- a failed or erroring setup, or a failed teardown after a passing call: ``error``;
- a failed call (or a failed unittest subtest): ``failed``; a strict xpass is ``failed`` too,
  as pytest counts it;
- ``report.wasxfail`` on a skipped report: ``xfailed``; on a passed one: ``xpassed``;
- skipped in setup or call: ``skipped``;
- a file or other collector that failed to collect: one ``error`` entry with the collector's
  node id (for a file, its path), as dbtest reports a file that cannot be imported; a file
  that skipped itself while being imported: one ``skipped`` entry with its path.

When a failed call is followed by a failed teardown the test stays ``failed`` (pytest counts
both; the first failure decides here).
"""

from __future__ import annotations

import json
import os
from typing import Any

_tests: dict[str, dict[str, Any]] = {}
_deselected: list[str] = []


def _message(report: Any) -> str | None:
    """The first line of why the report is not a pass: the crash message, or a skip reason."""
    longrepr = getattr(report, "longrepr", None)
    if longrepr is None:
        return None
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, lineno, reason) of a skip
        text = str(longrepr[2])
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = getattr(crash, "message", None) or str(longrepr)
        if crash is None:
            lines = [line for line in text.splitlines() if line.strip()]
            errors = [line for line in lines if line.startswith("E ")]
            text = errors[0][2:] if errors else (lines[-1] if lines else "")
    text = text.strip()
    return text.splitlines()[0] if text else None


def _set(nodeid: str, outcome: str, report: Any) -> None:
    _tests[nodeid] = {"id": nodeid, "outcome": outcome, "message": _message(report)}


def pytest_runtest_logreport(report: Any) -> None:
    nodeid, when, wasxfail = report.nodeid, report.when, hasattr(report, "wasxfail")
    is_subtest = type(report).__name__ == "SubtestReport"
    current = _tests.get(nodeid, {}).get("outcome")
    if is_subtest:
        # A subtest's failure fails its test; its skip or pass does not decide anything.
        if report.failed and current in (None, "passed"):
            _set(nodeid, "failed", report)
        return
    if when == "setup":
        if report.failed:
            _set(nodeid, "error", report)
        elif report.skipped:
            _set(nodeid, "xfailed" if wasxfail else "skipped", report)
        return
    if when == "call":
        if current not in (None, "passed"):  # a failed subtest already decided
            return
        if wasxfail:
            _set(nodeid, "xfailed" if report.skipped else "xpassed", report)
        elif report.failed:
            _set(nodeid, "failed", report)
        elif report.skipped:
            _set(nodeid, "skipped", report)
        else:
            _set(nodeid, "passed", report)
        return
    if when == "teardown" and report.failed and current in (None, "passed", "xpassed"):
        _set(nodeid, "error", report)


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _set(report.nodeid, "error", report)
    elif report.skipped and report.nodeid.endswith(".py"):
        # A module that skipped itself (`pytest.importorskip`, a module-level skip): pytest
        # counts it as one skipped entry, and so does dbtest.
        _set(report.nodeid, "skipped", report)


def pytest_deselected(items: Any) -> None:
    """Items that -m / -k (also from addopts) or a conftest hook took out of the run."""
    _deselected.extend(item.nodeid for item in items)


def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    path = os.environ.get("SUITES_OUTCOMES_JSON")
    if not path:
        return
    # Node ids are relative to the rootdir; the caller may have run from elsewhere.
    payload = {"schema": "suites-pytest-outcomes/1", "exitstatus": int(exitstatus),
               "rootdir": str(session.config.rootpath), "cwd": os.getcwd(),
               "tests": list(_tests.values()), "deselected": _deselected}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1)
