"""Async fixtures as pytest-asyncio runs them (DESIGN section 4b, last item): an async
fixture's set-up, its tests and its teardown share one `contextvars` context and one loop, and
a sync fixture may ask for an async one with `request.getfixturevalue()`.

tests/data/async_contexts: a module fixture sets a context variable and holds a lock that the
next file's fixture waits for; a teardown run in another context fails to reset the variable
and never releases the lock, and the run hangs (issue 20).
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
    "tests/test_first.py::test_module_fixture_sets_the_context": "passed",
    "tests/test_first.py::test_a_later_test_sees_it_too": "passed",
    "tests/test_first.py::test_function_fixture_on_top": "passed",
    "tests/test_first.py::test_user_is_reset_after_its_test": "passed",
    "tests/test_first.py::test_plain_async_fixture_sets_the_context": "passed",
    "tests/test_first.py::test_sync_test_sees_an_async_fixtures_context": "passed",
    "tests/test_first.py::test_sync_module_fixture_in_an_async_test": "passed",
    "tests/test_first.py::test_async_fixture_through_getfixturevalue": "passed",
    "tests/test_first.py::test_async_fixture_through_getfixturevalue_sync": "passed",
    "tests/test_first.py::test_sync_fixture_with_a_finalizer": "passed",
    "tests/test_sync_cleanup.py::test_binds_a_request": "passed",
    "tests/test_sync_cleanup.py::test_starts_clean": "passed",
    "tests/test_second.py::test_waits_for_the_first_module_to_let_go": "passed",
    "tests/test_second.py::test_user_of_the_second_module": "passed",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project("async_contexts", tmp_path_factory.mktemp("contexts"))


def test_fixtures_keep_their_context_and_nothing_hangs(project: Path) -> None:
    for _ in range(2):
        run = run_dbtest(project, "tests")
        run.expect_code(0)
        assert run.outcomes == EXPECTED, run.describe()
        # What a module fixture prints in its teardown is that teardown's (shown if it fails),
        # not late output of the test that set the fixture up.
        assert "closing" not in run.stdout + run.stderr, run.describe()


def test_matches_pytest(project: Path, tmp_path: Path) -> None:
    """The expectations above are pytest-asyncio's own."""
    out = tmp_path / "pytest.json"
    env = base_env(project, SUITES_OUTCOMES_JSON=str(out),
                   PYTHONPATH=os.pathsep.join([str(BENCHES), os.environ.get("PYTHONPATH", "")]))
    subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-p", "suites_pytest_outcomes"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )
    assert {t["id"]: t["outcome"] for t in json.loads(out.read_text())["tests"]} == EXPECTED
