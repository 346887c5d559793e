"""Plugins whose job is the engine's are served by the engine, never run beside it (DESIGN
section 4c): a suite that leans on them gets pytest's outcome for every id. Each sample's
expected outcomes are what pytest with the real plugin gives (checked against pytest itself).
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


def pytest_outcomes(project: Path, tmp_path: Path, *args: str) -> dict[str, str]:
    """What `python -m pytest` (with the real plugins installed here) gives each id."""
    out = tmp_path / "pytest.json"
    env = base_env(project, SUITES_OUTCOMES_JSON=str(out),
                   PYTHONPATH=os.pathsep.join([str(BENCHES), os.environ.get("PYTHONPATH", "")]))
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "suites_pytest_outcomes", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    return {t["id"]: t["outcome"] for t in json.loads(out.read_text())["tests"]}


# --- anyio ------------------------------------------------------------------------------

ANYIO_EXPECTED = {
    **{
        f"tests/test_default_backends.py::{name.format(b=backend)}": "passed"
        for backend in ("asyncio", "trio")
        for name in (
            "test_runs_on_its_backend[{b}]", "test_async_fixture_on_the_same_backend[{b}]",
            "test_fixture_teardown_ran_on_its_backend[{b}]", "test_sync_test_sees_the_backend[{b}]",
            "test_asks_for_the_backend_without_the_mark[{b}]", "TestMarkedClass::test_method[{b}]",
            "test_prints[{b}]",
            # the backend's id first: its fixture is module-scoped, the parametrize mark's is not
            "test_parametrized[{b}-1]", "test_parametrized[{b}-2]",
        )
    },
    "tests/test_default_backends.py::test_fails_on_each_backend[asyncio]": "failed",
    "tests/test_default_backends.py::test_fails_on_each_backend[trio]": "failed",
    "tests/test_default_backends.py::test_skips_inside[asyncio]": "passed",
    "tests/test_default_backends.py::test_skips_inside[trio]": "skipped",
    "tests/test_default_backends.py::test_free_ports": "passed",
    "tests/test_default_backends.py::TestMarkedClass::test_sync_method_is_not_parametrized": "passed",
    # a conftest's anyio_backend: trio alone, no id; a module-scoped async fixture
    "tests/trio_only/test_trio_only.py::test_first": "passed",
    "tests/trio_only/test_trio_only.py::test_second": "passed",
    "tests/trio_only/test_trio_only.py::test_getfixturevalue_of_an_async_fixture_inside_the_runner": "passed",
    # a conftest's anyio_backend with ids of its own, one given as (name, options)
    "tests/with_ids/test_with_ids.py::test_connection_on_the_backend[aio]": "passed",
    "tests/with_ids/test_with_ids.py::test_connection_on_the_backend[trio]": "passed",
    "tests/with_ids/test_with_ids.py::test_options[aio]": "passed",
    "tests/with_ids/test_with_ids.py::test_options[trio]": "passed",
    "tests/with_ids/test_with_ids.py::test_sync_not_taken": "passed",
}


@pytest.fixture(scope="module")
def anyio_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project("served_anyio", tmp_path_factory.mktemp("anyio"))


def test_anyio_tests_run_on_each_backend_as_under_pytest(anyio_project: Path) -> None:
    run = run_dbtest(anyio_project)
    run.expect_code(1)
    assert run.outcomes == ANYIO_EXPECTED, run.describe()
    # What a test prints on trio (in anyio's runner, on its own thread) is its own.
    for backend in ("asyncio", "trio"):
        entry = run.by_id[f"tests/test_default_backends.py::test_prints[{backend}]"]
        assert entry["stdout"] == f"printed on {backend}\n"


def test_anyio_expectations_are_pytests(anyio_project: Path, tmp_path: Path) -> None:
    assert pytest_outcomes(anyio_project, tmp_path) == ANYIO_EXPECTED


AUTO_EXPECTED = {
    "tests/test_auto_mode.py::test_unmarked_runs_on_each_backend[asyncio]": "passed",
    "tests/test_auto_mode.py::test_unmarked_runs_on_each_backend[trio]": "passed",
    "tests/test_auto_mode.py::test_sync_stays_one_test": "passed",
    "tests/test_auto_mode.py::test_unused_ports": "passed",
    "tests/test_auto_mode.py::test_event_loop_policy": "passed",
}


def test_anyio_auto_mode_and_pytest_asyncio_fixtures(tmp_path: Path) -> None:
    project = copy_project("served_auto", tmp_path)
    run = run_dbtest(project)
    run.expect_code(0)
    assert run.outcomes == AUTO_EXPECTED, run.describe()
    assert pytest_outcomes(project, tmp_path) == AUTO_EXPECTED


def test_a_disabled_plugin_serves_nothing(tmp_path: Path) -> None:
    """`-p no:anyio`: anyio's fixtures are not there, as under pytest."""
    project = copy_project("served_auto", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'addopts = "-p no:anyio"\n')
    run = run_dbtest(project)
    assert run.outcomes["tests/test_auto_mode.py::test_unmarked_runs_on_each_backend"] == "error", run.describe()
    assert pytest_outcomes(project, tmp_path)["tests/test_auto_mode.py::test_unmarked_runs_on_each_backend"] == "error"
