"""pytest plugins under `dbtest unit` (DESIGN section 4c): the ordinary ones run as the plugin
itself and give pytest's outcome to every id; plugins are found and ordered as pytest finds
them; their hooks go through pluggy with pytest's specifications; a plugin that cannot be
loaded is named once, and no test id is lost.

The samples: tests/data/plugins_ordinary (pytest-mock, syrupy, respx, time-machine,
pytest-freezer, pytest-env, Faker, pytester), tests/data/plugins_hooks (-p, pytest_plugins,
PYTEST_PLUGINS, -p no:, options and ini keys, tryfirst/trylast, firstresult, wrappers) and
tests/data/plugins_bad (entry points, broken plugins, an engine-served one).
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

ORDINARY = {
    "tests/test_env.py::test_env_from_ini": "passed",
    "tests/test_env.py::test_env_set_before_import": "passed",
    "tests/test_env.py::test_default_does_not_override": "passed",
    "tests/test_faker.py::test_faker_makes_names": "passed",
    "tests/test_faker.py::test_faker_is_seeded_per_test": "passed",
    "tests/test_faker.py::test_faker_locale_default": "passed",
    "tests/test_freezer.py::test_freezer_freezes": "passed",
    "tests/test_freezer.py::test_freeze_time_mark": "passed",
    "tests/test_freezer.py::test_wrong_frozen_date_fails": "failed",
    "tests/test_mock.py::test_patch_and_assert_called": "passed",
    "tests/test_mock.py::test_spy_sees_real_calls": "passed",
    "tests/test_mock.py::test_patches_are_undone_after_each_test": "passed",
    "tests/test_mock.py::test_mock_failure_fails": "failed",
    "tests/test_pytester.py::test_inner_suite_runs_in_a_subprocess": "passed",
    "tests/test_pytester.py::test_makepyfile_writes_in_its_own_folder": "passed",
    "tests/test_respx.py::test_route_is_mocked": "passed",
    "tests/test_respx.py::test_unmocked_route_fails": "failed",
    "tests/test_snapshot.py::test_matches_stored_snapshot": "passed",
    "tests/test_snapshot.py::test_differs_from_stored_snapshot": "failed",
    "tests/test_snapshot.py::test_missing_snapshot_fails": "failed",
    "tests/test_time_machine.py::test_travel_fixes_the_clock": "passed",
    "tests/test_time_machine.py::test_shift_moves_forward": "passed",
    "tests/test_time_machine.py::test_clock_is_back_after_travel": "passed",
}

HOOKS = {
    "tests/test_hooks.py::test_plugin_options_and_ini": "passed",
    "tests/test_hooks.py::test_fixture_of_a_pytest_plugins_module": "passed",
    "tests/test_hooks.py::test_fixture_of_pytest_plugins_env": "passed",
    "tests/test_hooks.py::test_turned_off_plugin_gives_no_fixture": "error",
    "tests/test_hooks.py::test_ordering_tryfirst_trylast": "passed",
    "tests/test_hooks.py::test_first_result_names_ids[plugin-other-pt1]": "passed",
    "tests/test_hooks.py::test_first_result_names_ids[plugin-other-pt2]": "passed",
    "tests/test_hooks.py::test_fails_for_the_reports": "failed",
    "tests/test_hooks.py::test_reports_went_through_the_wrapper": "passed",
    "tests/test_hooks.py::test_marker_registered_by_plugin": "passed",
}


def _env(project: Path, **extra: str) -> dict[str, str]:
    # plugins_ordinary's pytest-env keeps a variable set by the caller; plugins_hooks loads
    # env_plugin from PYTEST_PLUGINS.
    extra.setdefault("PYTEST_PLUGINS", "env_plugin" if project.name == "plugins_hooks" else "")
    return base_env(project, SAMPLE_KEPT="from the caller", **extra)


def pytest_outcomes(project: Path, tmp_path: Path, *args: str) -> dict[str, str]:
    """pytest's own outcome for every id of the sample (benches/suites_pytest_outcomes.py)."""
    out = tmp_path / "pytest.json"
    env = _env(project, SUITES_OUTCOMES_JSON=str(out),
               PYTHONPATH=os.pathsep.join([str(BENCHES), str(project), os.environ.get("PYTHONPATH", "")]))
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "suites_pytest_outcomes", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    return {t["id"]: t["outcome"] for t in json.loads(out.read_text())["tests"]}


@pytest.fixture
def ordinary(tmp_path: Path) -> Path:
    return copy_project("plugins_ordinary", tmp_path)


@pytest.fixture
def hooks(tmp_path: Path) -> Path:
    return copy_project("plugins_hooks", tmp_path)


def test_ordinary_plugins_give_pytests_outcomes(ordinary: Path, tmp_path: Path) -> None:
    run = run_dbtest(ordinary, env=_env(ordinary))
    run.expect_code(1)
    assert run.outcomes == ORDINARY, run.describe()
    # syrupy's session-finish report, as pytest prints it.
    assert "2 snapshots failed. 1 snapshot passed." in run.stdout, run.describe()
    assert pytest_outcomes(ordinary, tmp_path) == ORDINARY


def test_snapshot_update_writes_what_the_next_run_matches(ordinary: Path) -> None:
    snapshots = ordinary / "tests" / "__snapshots__" / "test_snapshot.ambr"
    run = run_dbtest(ordinary, "tests/test_snapshot.py", "--snapshot-update", env=_env(ordinary))
    run.expect_code(0)
    assert "1 snapshot generated. 1 snapshot updated." in run.stdout, run.describe()
    assert "'never stored'" in snapshots.read_text()
    again = run_dbtest(ordinary, "tests/test_snapshot.py", env=_env(ordinary))
    again.expect_code(0)
    assert set(again.outcomes.values()) == {"passed"}, again.describe()


def test_unused_snapshot_fails_the_run_as_under_pytest(ordinary: Path) -> None:
    """syrupy's pytest_sessionfinish fails pytest's run for a snapshot no test uses."""
    run_dbtest(ordinary, "tests/test_snapshot.py", "--snapshot-update", env=_env(ordinary)).expect_code(0)
    snapshots = ordinary / "tests" / "__snapshots__" / "test_snapshot.ambr"
    snapshots.write_text(snapshots.read_text() + "# name: test_removed_long_ago\n  1\n# ---\n")
    run = run_dbtest(ordinary, "tests/test_snapshot.py", env=_env(ordinary))
    run.expect_code(1)
    assert "1 snapshot unused" in run.stdout, run.describe()
    assert run.outcomes["<session>::pytest_sessionfinish"] == "error"
    assert {k: v for k, v in run.outcomes.items() if not k.startswith("<session>")} == {
        "tests/test_snapshot.py::test_matches_stored_snapshot": "passed",
        "tests/test_snapshot.py::test_differs_from_stored_snapshot": "passed",
        "tests/test_snapshot.py::test_missing_snapshot_fails": "passed",
    }


def test_plugins_are_found_ordered_and_called_as_pytest_does(hooks: Path, tmp_path: Path) -> None:
    run = run_dbtest(hooks, "--sample-level=high", env=_env(hooks))
    run.expect_code(1)
    assert run.outcomes == HOOKS, run.describe()
    assert pytest_outcomes(hooks, tmp_path, "--sample-level=high") == HOOKS
    # The hook dbtest does not call is named once, with its plugin; -p and the plugin's own
    # option in addopts are applied, not reported as ignored.
    named = [line for line in run.stderr.splitlines() if "pytest_itemcollected" in line]
    assert named == [
        ("dbtest: warning: late_plugin: hook pytest_itemcollected is not called by dbtest; tests that "
         "depend on it may behave differently than under pytest")
    ], run.describe()
    assert "ignored" not in run.stderr, run.describe()


def test_an_option_no_plugin_or_conftest_defines_is_a_usage_error(hooks: Path) -> None:
    """As pytest: found once the plugins and the initial conftests added theirs, before any
    test file is imported."""
    run = run_dbtest(hooks, "--sample-level=high", "--no-such-option", env=_env(hooks))
    run.expect_code(4)
    assert "unrecognized option: --no-such-option" in run.stderr, run.describe()
    assert "--sample-level" not in run.stderr, run.describe()
    assert run.report is None or not run.report["tests"], run.describe()


def test_a_plugin_that_cannot_load_is_named_once_and_no_id_is_lost(tmp_path: Path) -> None:
    project = copy_project("plugins_bad", tmp_path)
    run = run_dbtest(project, env=base_env(project, PYTHONPATH=str(project / "site")))
    run.expect_code(1)
    assert run.outcomes == {
        "tests/test_bad.py::test_plain": "passed",
        "tests/test_bad.py::test_entry_point_fixture": "passed",
        "tests/test_bad.py::test_fixture_of_a_plugin_that_failed": "error",
    }, run.describe()
    for name, error in (
        ("broken_plugin", "ModuleNotFoundError: No module named 'sample_dependency_not_installed'"),
        ("broken_ep (broken-ep)", "RuntimeError: sample plugin broken at import"),
    ):
        lines = [line for line in run.stderr.splitlines() if f"pytest plugin {name} could not be loaded" in line]
        assert len(lines) == 1, run.describe()
        assert error in lines[0] and "-p no:" in lines[0], lines[0]
    # The stand-in pytest-timeout is the engine's job: never imported (it raises if it is).
    assert "never imported" not in run.stderr + run.stdout, run.describe()
    assert "pytest_timeout" not in run.stderr, run.describe()
