"""A suite written for pytest runs under `dbtest unit` unmodified, with pytest's result for
every test id (DESIGN section 4b), and the same result on every run (section 2).

tests/data/pytest_compat holds one sample per contract item: conftest hooks and fixtures in a
package, fixture params, overriding, indirect parametrization, class scope, a thread-bound
session fixture, the built-in fixtures, marks and their outcomes, xunit classes, unittest and
IsolatedAsyncioTestCase, a module that skips itself. The expected outcomes below are what
pytest gives (and `test_matches_pytest` checks that against pytest itself, when it is here).
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
    "tests/pkg/test_fixtures.py::test_relative_import": "passed",
    "tests/pkg/test_fixtures.py::test_override": "passed",
    "tests/pkg/test_fixtures.py::test_params[one]": "passed",
    "tests/pkg/test_fixtures.py::test_params[two]": "passed",
    "tests/pkg/test_fixtures.py::test_generated[memory]": "passed",
    "tests/pkg/test_fixtures.py::test_generated[disk]": "passed",
    "tests/pkg/test_fixtures.py::test_autouse": "passed",
    "tests/pkg/test_fixtures.py::test_indirect[1]": "passed",
    "tests/pkg/test_fixtures.py::test_indirect[2]": "passed",
    "tests/pkg/test_fixtures.py::test_request": "passed",
    "tests/pkg/test_fixtures.py::test_usefixtures": "passed",
    "tests/pkg/test_fixtures.py::test_sqlite_thread_one": "passed",
    "tests/pkg/test_fixtures.py::test_sqlite_thread_two": "passed",
    "tests/pkg/test_fixtures.py::TestScopes::test_first": "passed",
    "tests/pkg/test_fixtures.py::TestScopes::test_second": "passed",
    "tests/pkg/test_fixtures.py::test_slow_is_skipped": "skipped",
    "tests/pkg/test_fixtures.py::test_builtins": "passed",
    # pytest-asyncio's mark and async fixture
    "tests/pkg/test_fixtures.py::test_asyncio_marked": "passed",
    # stacked parametrize: the decorator nearest the def comes first in the id
    "tests/test_marks.py::test_stacked[x-1]": "passed",
    "tests/test_marks.py::test_stacked[x-2]": "passed",
    "tests/test_marks.py::test_stacked[y-1]": "passed",
    "tests/test_marks.py::test_stacked[y-2]": "passed",
    # duplicate ids made unique as pytest does; pytest.param ids and marks
    "tests/test_marks.py::test_ids[a0]": "passed",
    "tests/test_marks.py::test_ids[a1]": "passed",
    "tests/test_marks.py::test_ids[1.5]": "passed",
    "tests/test_marks.py::test_ids[None]": "passed",
    "tests/test_marks.py::test_ids[three]": "passed",
    "tests/test_marks.py::test_ids[4]": "xfailed",
    "tests/test_marks.py::test_empty[NOTSET]": "skipped",
    "tests/test_marks.py::test_skipif_false": "passed",
    "tests/test_marks.py::test_skipif_true": "skipped",
    "tests/test_marks.py::test_xfail_raises": "xfailed",
    "tests/test_marks.py::test_xfail_other_error": "failed",
    "tests/test_marks.py::test_xpass_strict": "failed",
    "tests/test_marks.py::test_xfail_not_run": "xfailed",
    "tests/test_marks.py::test_custom_mark": "passed",
    "tests/test_marks.py::test_runtime_skip": "skipped",
    "tests/test_marks.py::test_runtime_xfail": "xfailed",
    "tests/test_marks.py::test_runtime_fail": "failed",
    "tests/test_marks.py::test_filterwarnings_error": "failed",
    "tests/test_marks.py::test_xunit_function": "passed",
    "tests/test_marks.py::TestXunit::test_method": "passed",
    "tests/test_marks.py::TestOuter::TestNested::test_inner": "passed",
    "tests/test_marks.py::TestCaseStyle::test_assert": "passed",
    "tests/test_marks.py::TestCaseStyle::test_failure": "failed",
    "tests/test_marks.py::TestCaseStyle::test_subtests": "failed",
    "tests/test_marks.py::TestCaseStyle::test_skipped": "skipped",
    "tests/test_marks.py::TestCaseStyle::test_expected_failure": "xfailed",
    "tests/test_marks.py::TestCaseStyle::test_unexpected_success": "failed",
    "tests/test_marks.py::TestAsyncCase::test_async": "passed",
    # pytest-benchmark's fixture, measured by dbtest bench's engine
    "tests/test_benchmark.py::test_benchmark_call": "passed",
    # conftest hooks around each test
    "tests/test_runtest_hooks.py::test_first": "passed",
    "tests/test_runtest_hooks.py::test_second": "passed",
    "tests/test_benchmark.py::test_benchmark_budget_from_the_mark": "passed",
    "tests/test_benchmark.py::test_benchmark_pedantic": "passed",
    # pytest.importorskip at import: the module is one skipped entry
    "tests/test_module_skip.py": "skipped",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project("pytest_compat", tmp_path_factory.mktemp("compat"))


def test_every_outcome_is_pytests_on_every_run(project: Path) -> None:
    for _ in range(2):
        run = run_dbtest(project)
        run.expect_code(1)
        assert run.outcomes == EXPECTED, run.describe()


def test_benchmark_figures_are_in_the_report(project: Path) -> None:
    run = run_dbtest(project, "tests/test_benchmark.py")
    run.expect_code(0)
    call = run.by_id["tests/test_benchmark.py::test_benchmark_call"]["benchmark"]
    assert call["rounds"] >= 5 and call["iterations_per_round"] >= 1
    stats = call["stats"]
    assert 0 < stats["min"] <= stats["median"] <= stats["max"]
    # The mark's budget wins, as in pytest-benchmark: exactly its minimum of rounds.
    budgeted = run.by_id["tests/test_benchmark.py::test_benchmark_budget_from_the_mark"]["benchmark"]
    assert budgeted["rounds"] == 7
    pedantic = run.by_id["tests/test_benchmark.py::test_benchmark_pedantic"]["benchmark"]
    # Exactly the rounds asked for, of one call each.
    assert pedantic["rounds"] == 4 and pedantic["iterations_per_round"] == 1


def test_nothing_found_says_why(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "checks_math.py").write_text("def test_add():\n    assert 1 + 1 == 2\n")
    run = run_dbtest(tmp_path)
    run.expect_code(5)
    assert "tests/checks_math.py" in run.stderr, run.describe()
    assert "python_files" in run.stderr


def test_a_plugin_fixture_out_of_reach_names_its_plugin(tmp_path: Path) -> None:
    # pytest-benchmark (a dev dependency) also defines `benchmark_weave`, which dbtest does not serve.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_weave.py").write_text("def test_weave(benchmark_weave):\n    pass\n")
    run = run_dbtest(tmp_path)
    run.expect_code(1)
    message = run.by_id["tests/test_weave.py::test_weave"]["message"]
    assert "pytest plugin pytest-benchmark" in message, message


def test_what_a_forked_child_prints_is_not_lost(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_fork.py").write_text(
        "import multiprocessing, sys\n\n"
        "def child():\n    print('<from the child>', file=sys.stderr)\n\n"
        "def test_fork():\n"
        "    p = multiprocessing.get_context('fork').Process(target=child)\n"
        "    p.start(); p.join(30)\n    assert p.exitcode == 0\n"
    )
    run = run_dbtest(tmp_path)
    run.expect_code(0)
    # A pytest-style test runs alone, its fds 1 and 2 captured as pytest's --capture=fd: the
    # child's output is the test's (before, it went to the console).
    assert run.by_id["tests/test_fork.py::test_fork"]["stderr"] == "<from the child>\n", run.describe()
    assert "<from the child>" not in run.stderr


def test_a_child_forked_from_a_test_exits_cleanly(tmp_path: Path) -> None:
    # Tests run on threads Rust started; a child forked there must still exit 0 at the end
    # (Python 3.11 asserted a main-thread lock it lacked, after any thread pool had run).
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_fork.py").write_text(
        "import asyncio, multiprocessing\n"
        "from concurrent.futures import ThreadPoolExecutor\n\n"
        "def test_loop_in_a_thread():\n"
        "    with ThreadPoolExecutor(1) as pool:\n"
        "        assert pool.submit(asyncio.run, asyncio.sleep(0, 7)).result() == 7\n\n"
        "def child():\n    pass\n\n"
        "def test_fork():\n"
        "    p = multiprocessing.get_context('fork').Process(target=child)\n"
        "    p.start(); p.join(30)\n    assert p.exitcode == 0\n"
    )
    run = run_dbtest(tmp_path)
    run.expect_code(0)


def test_setup_function_runs_for_a_test_without_fixtures(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_xunit.py").write_text(
        "state = []\n\n"
        "def setup_function(function):\n    state.append(function.__name__)\n\n"
        "def teardown_function(function):\n    state.append('down')\n\n"
        "def test_a():\n    assert state == ['test_a']\n\n"
        "def test_b():\n    assert state == ['test_a', 'down', 'test_b']\n"
    )
    run = run_dbtest(tmp_path)
    run.expect_code(0)
    assert run.outcomes == {"tests/test_xunit.py::test_a": "passed", "tests/test_xunit.py::test_b": "passed"}


def test_unsupported_hook_is_named(project: Path) -> None:
    conftest = project / "tests" / "conftest.py"
    original = conftest.read_text()
    conftest.write_text(original + "\n\ndef pytest_collect_file(parent, file_path):\n    return None\n")
    try:
        run = run_dbtest(project)
    finally:
        conftest.write_text(original)
    assert "hook pytest_collect_file is not called by dbtest" in run.stderr, run.describe()
    assert run.stderr.count("pytest_collect_file") == 1, run.describe()
    assert str(conftest) in run.stderr or "conftest.py" in run.stderr
    assert run.outcomes == EXPECTED


def test_matches_pytest(project: Path, tmp_path: Path) -> None:
    """The expectations above are pytest's own: pytest on the same project agrees."""
    out = tmp_path / "pytest.json"
    env = base_env(project, SUITES_OUTCOMES_JSON=str(out),
                   PYTHONPATH=os.pathsep.join([str(BENCHES), os.environ.get("PYTHONPATH", "")]))
    subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-p", "suites_pytest_outcomes"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )
    pytest_outcomes = {t["id"]: t["outcome"] for t in json.loads(out.read_text())["tests"]}
    assert pytest_outcomes == EXPECTED
