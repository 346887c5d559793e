"""Parametrized fixtures of wider scopes, as pytest runs them (DESIGN section 4b).

tests/data/fixture_params: module-, class- and session-scoped fixtures with params, and tests
that reach parametrized fixtures through other fixtures. pytest moves the tests that share a
wider-scoped parameter together (`reorder_items`), so such a fixture is set up once per
parameter, and it orders the parts of an id by the fixture closure (wider scopes first, the
closure walked as that pytest walks it). Every sample writes what it set up, tore down and ran
to one log per file: dbtest's logs must be pytest's, for every supported pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _e2e import base_env, copy_project, run_dbtest
from _pytest_venvs import PYTESTS, python_for

BENCHES = Path(__file__).resolve().parent.parent / "benches"

# pytest 9's ids and outcomes; 7.x and 8.x walk the fixture closure breadth first, so one id
# differs (see test_ids.py::test_depth_and_breadth).
EXPECTED = {
    "tests/test_class_scope.py::TestOne::test_a[c1]": "passed",
    "tests/test_class_scope.py::TestOne::test_b[c1]": "passed",
    "tests/test_class_scope.py::TestOne::test_a[c2]": "passed",
    "tests/test_class_scope.py::TestOne::test_b[c2]": "passed",
    "tests/test_class_scope.py::TestOne::test_c": "passed",
    "tests/test_class_scope.py::TestTwo::test_d[c1-k1]": "passed",
    "tests/test_class_scope.py::TestTwo::test_d[c1-k2]": "passed",
    "tests/test_class_scope.py::TestTwo::test_d[c2-k2]": "passed",
    "tests/test_class_scope.py::TestTwo::test_d[c2-k1]": "passed",
    "tests/test_class_scope.py::TestTwo::test_e[k2]": "passed",
    "tests/test_class_scope.py::TestTwo::test_e[k1]": "passed",
    "tests/test_class_scope.py::test_outside[c1]": "passed",
    "tests/test_class_scope.py::test_outside[c2]": "passed",
    "tests/test_ids.py::test_through_a_fixture[a-x]": "passed",
    "tests/test_ids.py::test_with_a_mark[a-x-1]": "passed",
    "tests/test_ids.py::test_through_a_fixture[b-x]": "passed",
    "tests/test_ids.py::test_with_a_mark[b-x-1]": "passed",
    "tests/test_ids.py::test_depth_and_breadth[g1-f2]": "passed",
    "tests/test_module_scope.py::test_first[m1]": "passed",
    "tests/test_module_scope.py::test_numbered[m1-1]": "passed",
    "tests/test_module_scope.py::test_numbered[m1-2]": "passed",
    "tests/test_module_scope.py::test_last[m1]": "passed",
    "tests/test_module_scope.py::test_first[m2]": "passed",
    "tests/test_module_scope.py::test_numbered[m2-1]": "passed",
    "tests/test_module_scope.py::test_numbered[m2-2]": "passed",
    "tests/test_module_scope.py::test_last[m2]": "passed",
    "tests/test_module_scope.py::test_plain": "passed",
    "tests/test_session_a.py::test_one[s1]": "passed",
    "tests/test_session_a.py::test_two[s1]": "passed",
    "tests/test_session_a.py::test_one[s2]": "passed",
    "tests/test_session_a.py::test_two[s2]": "passed",
    "tests/test_session_b.py::test_three[s1]": "passed",
    "tests/test_session_b.py::test_five[s1]": "passed",
    "tests/test_session_b.py::test_three[s2]": "passed",
    "tests/test_session_b.py::test_five[s2]": "passed",
    "tests/test_session_b.py::test_four": "passed",
}


@pytest.fixture(scope="module", params=PYTESTS)
def python(request: pytest.FixtureRequest) -> str:
    return python_for(request.param)


def run_pytest(python: str, project: Path, out: Path, *args: str) -> list[dict[str, str]]:
    """pytest's outcome of every test of `project`, in the order it ran them."""
    report = out / "pytest.json"
    env = base_env(out, SUITES_OUTCOMES_JSON=str(report),
                   PYTHONPATH=os.pathsep.join([str(BENCHES), os.environ.get("PYTHONPATH", "")]))
    subprocess.run(
        [python, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider", "-p", "suites_pytest_outcomes"],
        check=False, cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )
    tests: list[dict[str, str]] = json.loads(report.read_text())["tests"]
    return tests


def by_file(ids: list[str]) -> dict[str, list[str]]:
    """Test ids in their run order, per file (dbtest runs a file as one task)."""
    out: dict[str, list[str]] = {}
    for test_id in ids:
        out.setdefault(test_id.split("::")[0], []).append(test_id)
    return out


def logs(folder: Path) -> dict[str, list[str]]:
    return {p.name: p.read_text().splitlines() for p in sorted(folder.glob("*.log"))}


def test_order_ids_and_setups_are_pytests(python: str, tmp_path: Path) -> None:
    pytest_out, dbtest_out = tmp_path / "pytest", tmp_path / "dbtest"
    pytest_out.mkdir()
    dbtest_out.mkdir()
    project = copy_project("fixture_params", tmp_path)
    pytest_tests = run_pytest(python, project, pytest_out)
    run = run_dbtest(project, env=base_env(dbtest_out), python=python)
    run.expect_code(0)
    if python == sys.executable and pytest.version_tuple >= (9,):
        assert run.outcomes == EXPECTED, run.describe()
    assert run.outcomes == {t["id"]: t["outcome"] for t in pytest_tests}, run.describe()
    assert by_file([t["id"] for t in run.report["tests"]]) == by_file([t["id"] for t in pytest_tests])
    # Module- and class-scoped params: set up once per parameter, torn down as pytest does.
    pytest_logs, dbtest_logs = logs(pytest_out), logs(dbtest_out)
    assert set(pytest_logs) == {"test_class_scope.log", "test_module_scope.log", "test_session_a.log",
                                "test_session_b.log"}
    assert dbtest_logs == pytest_logs
    # A session-scoped param: pytest interleaves files to set each value up once; dbtest runs a
    # file as one task, so each file that uses it sets each value up once.
    session = (dbtest_out / "session").read_text().splitlines()
    assert session.count("setup backend s1") == session.count("setup backend s2") == 2, session


@pytest.mark.parametrize("sample", ["pytest_compat", "pytest_config/precedence", "pytest_config/setup_cfg",
                                    "pytest_config/testpaths", "pytest_config/tox_ini"])
def test_samples_match_each_pytest(python: str, sample: str, tmp_path: Path) -> None:
    """Each pytest-based sample (pytest_config/addopts names pytest-cov's option, which pytest
    rejects without that plugin) gives every id that pytest's outcome, in its order."""
    project = copy_project(sample, tmp_path)
    pytest_tests = run_pytest(python, project, tmp_path)
    run = run_dbtest(project, python=python)
    assert run.outcomes == {t["id"]: t["outcome"] for t in pytest_tests}, run.describe()
    assert by_file([t["id"] for t in run.report["tests"]]) == by_file([t["id"] for t in pytest_tests])
