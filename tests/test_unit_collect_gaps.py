"""Collection as pytest's (DESIGN section 4b), on tests/data/collect_gaps:

- `collect_ignore` / `collect_ignore_glob` in conftests: an ignored file or folder is never
  imported (nor a conftest inside it) and never reported; entries are relative to the folder of
  the innermost conftest that sets the name;
- module globals whose `__getattr__` answers every name (`unittest.mock.call`, a query
  builder) are never taken for fixtures;
- `@pytest.fixture` stacked on `@staticmethod` in a test class gets no instance;
- a `unittest.TestCase` with xunit `setup_class` / `setup_method` / `teardown_method` /
  `teardown_class`: pytest calls them, in its order.

The expected outcomes are pytest's (`test_matches_pytest` checks them against pytest itself).
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
    "tests/deep/keep/test_deep.py::test_deep": "passed",
    "tests/sub/test_ignored_file.py::test_same_name_elsewhere_is_collected": "passed",
    "tests/test_answers_every_name.py::test_uses_call": "passed",
    "tests/test_answers_every_name.py::test_uses_builder": "passed",
    "tests/test_kept.py::test_kept": "passed",
    "tests/test_static_fixture.py::TestStaticFixture::test_param[a]": "passed",
    "tests/test_static_fixture.py::TestStaticFixture::test_param[b]": "passed",
    "tests/test_static_fixture.py::TestStaticFixture::test_plain": "passed",
    "tests/test_unittest_xunit.py::TestCaseWithXunit::test_a": "passed",
    "tests/test_unittest_xunit.py::TestCaseWithXunit::test_b": "passed",
    "tests/test_unittest_xunit.py::test_class_torn_down_in_order": "passed",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("collect_gaps", tmp_path)


def test_outcomes_are_pytests(project: Path) -> None:
    run = run_dbtest(project)
    run.expect_code(0)
    assert run.outcomes == EXPECTED, run.describe()
    assert "must not be imported" not in run.stdout + run.stderr, run.describe()


def test_collect_only_lists_what_pytest_collects(project: Path) -> None:
    run = run_dbtest(project, "--collect-only", json_report=False)
    run.expect_code(0)
    assert {line for line in run.lines if "::" in line} == set(EXPECTED), run.describe()


def test_a_folder_given_on_the_command_line_is_searched_below_it(project: Path) -> None:
    """pytest checks collect_ignore only for what lies below a path it was given."""
    (project / "tests" / "ignored_dir" / "conftest.py").write_text("")
    (project / "tests" / "ignored_dir" / "test_never.py").write_text("def test_given():\n    pass\n")
    run = run_dbtest(project, "tests/ignored_dir")
    assert run.outcomes == {"tests/ignored_dir/test_never.py::test_given": "passed"}, run.describe()


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
