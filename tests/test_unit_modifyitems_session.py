"""`pytest_collection_modifyitems` is called once over the session's items, as pytest calls
it (DESIGN section 4b), on tests/data/modifyitems_session: the conftest's hook counts the
items of both files in one call, deselects a test of one file because of a test of the
other, and runs the files in reverse; what runs gets pytest's outcome, what the hook
deselected is not reported. `test_matches_pytest` checks the expectations against pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _e2e import base_env, copy_project, run_dbtest

BENCHES = Path(__file__).resolve().parent.parent / "benches"

EXPECTED = {
    "tests/test_b.py::test_b": "passed",
    "tests/test_a.py::test_once_a": "passed",
    "tests/test_a.py::test_calls": "passed",
    "tests/test_a.py::test_after_b": "passed",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("modifyitems_session", tmp_path)


def test_the_hook_sees_every_file_at_once(project: Path) -> None:
    run = run_dbtest(project)
    run.expect_code(0)
    assert run.outcomes == EXPECTED, run.describe()


def test_matches_pytest(project: Path, tmp_path: Path) -> None:
    """The expectations above are pytest's own: pytest on the same project agrees."""
    out = tmp_path / "pytest.json"
    env = base_env(project, SUITES_OUTCOMES_JSON=str(out),
                   PYTHONPATH=os.pathsep.join([str(BENCHES), os.environ.get("PYTHONPATH", "")]))
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "suites_pytest_outcomes"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )
    pytest_outcomes = {t["id"]: t["outcome"] for t in json.loads(out.read_text())["tests"]}
    assert pytest_outcomes == EXPECTED
