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
    # a hypothesis test of a coroutine: each example on the backend
    "tests/test_hypothesis.py::test_each_example_on_the_backend[asyncio]": "passed",
    "tests/test_hypothesis.py::test_each_example_on_the_backend[trio]": "passed",
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


# --- pytest-xdist -----------------------------------------------------------------------

XDIST_EXPECTED = {
    f"tests/test_worker_{f}.py::{name}": "passed"
    for f in ("a", "b")
    for name in ("test_worker_id", "test_worker_count", "test_testrun_uid", "test_workerinput_only_in_a_worker")
}


@pytest.mark.parametrize("how", [["-n", "2"], ["addopts"]], ids=["flag", "addopts"])
def test_xdist_n_is_workers_with_xdists_worker_id(tmp_path: Path, how: list[str]) -> None:
    project = copy_project("served_xdist", tmp_path)
    if how == ["addopts"]:
        pyproject = project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text() + 'addopts = "-n 2"\n')
        how = []
    run = run_dbtest(project, *how)
    run.expect_code(0)
    assert run.outcomes == XDIST_EXPECTED, run.describe()
    # Both files ran in workers ("gw0", "gw1"), each worker with an id of its own.
    seen = {line.split()[0]: line.split()[1] for line in (project / "workers.log").read_text().splitlines()}
    assert set(seen) <= {"gw0", "gw1", "gw2", "gw3"} and seen, seen
    assert len(set(seen.values())) == len(seen)


def test_xdist_worker_id_in_process_is_master(tmp_path: Path) -> None:
    project = copy_project("served_xdist", tmp_path)
    run = run_dbtest(project)
    run.expect_code(0)
    assert run.outcomes == XDIST_EXPECTED, run.describe()
    assert {line.split()[0] for line in (project / "workers.log").read_text().splitlines()} == {"master"}
    assert pytest_outcomes(project, tmp_path, "-n", "2") == XDIST_EXPECTED


# --- pytest-timeout ---------------------------------------------------------------------

def test_timeout_setting_and_mark(tmp_path: Path) -> None:
    project = copy_project("served_timeout", tmp_path)
    run = run_dbtest(project)
    run.expect_code(1)
    expected = {
        "tests/test_timeouts.py::test_quick": "passed",
        "tests/test_timeouts.py::test_past_the_setting": "failed",
        "tests/test_timeouts.py::test_mark_0_lifts_the_setting": "passed",
        "tests/test_timeouts.py::test_mark_gives_more_time": "passed",
        "tests/test_timeouts.py::test_mark_gives_less_time": "failed",
    }
    assert pytest_outcomes(project, tmp_path) == expected
    # pytest-timeout fails a test past its time; dbtest says so with its own outcome.
    timed_out = {k: ("timeout" if v == "failed" else v) for k, v in expected.items()}
    assert run.outcomes == timed_out, run.describe()
    assert run.by_id["tests/test_timeouts.py::test_past_the_setting"]["message"] == "timed out after 1s"


# --- pytest-rerunfailures ---------------------------------------------------------------

def test_reruns_from_addopts_and_the_flaky_mark(tmp_path: Path) -> None:
    project = copy_project("served_reruns", tmp_path)
    run = run_dbtest(project)
    run.expect_code(1)
    expected = {
        "tests/test_reruns.py::test_passes_on_its_rerun": "passed",
        "tests/test_reruns.py::test_fails_every_time": "failed",
        "tests/test_reruns.py::test_mark_gives_more_reruns": "passed",
        "tests/test_reruns.py::test_mark_gives_none": "failed",
    }
    assert run.outcomes == expected, run.describe()
    assert pytest_outcomes(project, tmp_path) == expected
    attempts = {t["id"].split("::")[-1]: t["attempts"] for t in run.report["tests"]}  # type: ignore[index]
    assert attempts == {"test_passes_on_its_rerun": 2, "test_fails_every_time": 2,
                        "test_mark_gives_more_reruns": 4, "test_mark_gives_none": 1}


def test_reruns_flag(tmp_path: Path) -> None:
    project = copy_project("served_reruns", tmp_path)
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    run = run_dbtest(project, "--reruns", "1")
    assert run.outcomes["tests/test_reruns.py::test_passes_on_its_rerun"] == "passed", run.describe()


# --- pytest-codspeed --------------------------------------------------------------------

def test_codspeed_benchmark_runs_the_function_once(tmp_path: Path) -> None:
    project = copy_project("served_codspeed", tmp_path)
    run = run_dbtest(project)
    run.expect_code(0)
    expected = {
        "tests/test_codspeed.py::test_called_once": "passed",
        "tests/test_codspeed.py::test_pedantic_called_once": "passed",
    }
    assert run.outcomes == expected, run.describe()
    assert pytest_outcomes(project, tmp_path) == expected


def test_codspeed_benchmark_stands_in_for_pytest_benchmarks_only_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """As pytest-codspeed's plugin: its `benchmark` fixture exists only when pytest-benchmark
    is not installed (with it, pytest-benchmark's fixture stays, which dbtest measures)."""
    from dbtest._compat import served

    installed = dict(served._entry_points())
    installed["pytest_codspeed.plugin"] = "codspeed"
    installed.pop("pytest_benchmark.plugin", None)
    monkeypatch.setattr(served, "_entry_points", lambda: installed)
    assert "benchmark" in served.fixtures()
    installed["pytest_benchmark.plugin"] = "benchmark"
    table = served.fixtures()
    assert "benchmark" not in table and "codspeed_benchmark" in table
    del installed["pytest_benchmark.plugin"]
    benchmark = served.fixtures()["benchmark"].func()
    assert benchmark(lambda x: x + 1, 1) == 2
    with pytest.raises(RuntimeError, match="only be used once"):
        benchmark(lambda: None)


# --- pytest-randomly --------------------------------------------------------------------

# What each test drew under pytest with pytest-randomly 5.1.0 and --randomly-seed=1234.
RANDOMLY_DRAWS_1234 = [
    "test_one 0.5889029475901949",
    "test_params[1] 0.3728876469086557",
    "test_params[2] 0.44952220133626153",
    "test_two 0.7172743646925607",
]


def _randomly_installed(site: Path) -> str:
    """A stand-in for pytest-randomly (not installed in dbtest's development environment: it
    would shuffle every sample): its `pytest11` entry point, and its reseeding function, which
    is what dbtest calls of the real plugin. Returns the PYTHONPATH that installs it."""
    info = site / "randomly_stand_in-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: randomly-stand-in\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nrandomly = pytest_randomly\n")
    (site / "pytest_randomly.py").write_text(
        "import random\n\n\n"
        "def _reseed(config, offset=0):\n"
        "    random.seed(config.getoption('randomly_seed') + offset)\n"
    )
    return os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])


def test_randomly_shuffles_and_reseeds_each_test_as_pytest_randomly(tmp_path: Path) -> None:
    project = copy_project("served_randomly", tmp_path)
    env = base_env(project, PYTHONPATH=_randomly_installed(tmp_path / "site"))
    run = run_dbtest(project, "--randomly-seed", "1234", env=env)
    run.expect_code(0)
    assert "random order: replay it with --random-order --seed 1234" in run.stdout, run.describe()
    assert sorted((project / "draws.log").read_text().splitlines()) == RANDOMLY_DRAWS_1234
    (project / "draws.log").unlink()
    # In workers too: the seed is the run's.
    run = run_dbtest(project, "--randomly-seed", "1234", "-n", "2", env=env)
    run.expect_code(0)
    assert sorted((project / "draws.log").read_text().splitlines()) == RANDOMLY_DRAWS_1234


def test_randomly_disabled_keeps_the_order(tmp_path: Path) -> None:
    project = copy_project("served_randomly", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'addopts = "-p no:randomly"\n')
    env = base_env(project, PYTHONPATH=_randomly_installed(tmp_path / "site"))
    run = run_dbtest(project, env=env)
    run.expect_code(0)
    assert "random order" not in run.stdout, run.describe()
