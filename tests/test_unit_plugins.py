"""pytest plugins under `dbtest unit` (DESIGN section 4c): the ordinary ones run as the plugin
itself and give pytest's outcome to every id; plugins are found and ordered as pytest finds
them; their hooks go through pluggy with pytest's specifications; a plugin that cannot be
loaded is named once, and no test id is lost.

The samples: tests/data/plugins_ordinary (pytest-mock, syrupy, respx, time-machine,
pytest-freezer, pytest-env, Faker, pytester), tests/data/plugins_hooks (-p, pytest_plugins,
PYTEST_PLUGINS, -p no:, options and ini keys, tryfirst/trylast, firstresult, wrappers) and
tests/data/plugins_bad (entry points, broken plugins, an engine-served one), and one sample
per plugin: plugins_httpx (pytest-httpx), plugins_freezegun (freezegun, pytest-freezer),
plugins_order (pytest-order), plugins_hypothesis, plugins_django (pytest-django).
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
    named = [line for line in run.stderr.splitlines() if "pytest_collectreport" in line]
    assert named == [
        ("dbtest: warning: late_plugin: hook pytest_collectreport is not called by dbtest; tests that "
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


# --- one sample per plugin: every id's outcome, as pytest with the real plugin gives it ----

PER_PLUGIN = {
    "plugins_httpx": {
        "tests/test_httpx_mock.py::test_response_is_mocked": "passed",
        "tests/test_httpx_mock.py::test_async_client_is_mocked": "passed",
        "tests/test_httpx_mock.py::test_unmatched_request_fails": "failed",
        "tests/test_httpx_mock.py::test_unused_response_fails_at_teardown": "error",
        "tests/test_httpx_mock.py::test_mark_allows_unused_responses": "passed",
        "tests/test_httpx_mock.py::test_requests_are_recorded": "passed",
    },
    "plugins_freezegun": {
        "tests/test_freezegun.py::test_decorated_test_sees_the_frozen_clock": "passed",
        "tests/test_freezegun.py::test_context_manager_ticks": "passed",
        "tests/test_freezegun.py::test_async_test_is_frozen": "passed",
        "tests/test_freezegun.py::test_parametrized_under_freeze[1]": "passed",
        "tests/test_freezegun.py::test_parametrized_under_freeze[2]": "passed",
        "tests/test_freezegun.py::TestFrozenClass::test_method_is_frozen": "passed",
        "tests/test_freezegun.py::TestFrozenClass::test_time_time_is_frozen": "passed",
        "tests/test_freezegun.py::FrozenCase::test_unittest_method_is_frozen": "passed",
        "tests/test_freezegun.py::test_clock_is_real_again": "passed",
        "tests/test_freezegun.py::test_wrong_date_fails": "failed",
        "tests/test_freezegun.py::test_freezer_fixture": "passed",
    },
    "plugins_order": {
        # Each test asserts what ran before it: the order is pytest-order's.
        "tests/test_order.py::test_first": "passed",
        "tests/test_order.py::test_second": "passed",
        "tests/test_order.py::test_third": "passed",
        "tests/test_order.py::test_unordered_runs_after_the_ordered": "passed",
        "tests/test_order.py::test_after_a_named_test": "passed",
        "tests/test_order.py::test_last": "passed",
    },
    "plugins_hypothesis": {
        "tests/test_given.py::test_addition_commutes": "passed",
        "tests/test_given.py::test_shrinks_to_the_smallest_failure": "failed",
        "tests/test_given.py::test_profile_from_the_option": "passed",
        "tests/test_given.py::test_seed_from_the_option": "passed",
        "tests/test_given.py::test_settings_decorator": "passed",
        "tests/test_given.py::test_settings_decorator_ran_its_examples": "passed",
        "tests/test_given.py::test_explicit_example_runs_first": "failed",
        "tests/test_given.py::test_parametrized_given[1]": "passed",
        "tests/test_given.py::test_parametrized_given[2]": "passed",
        "tests/test_given.py::test_given_with_a_module_fixture": "passed",
    },
}


@pytest.mark.parametrize("sample", sorted(PER_PLUGIN))
def test_each_plugin_gives_pytests_outcome_to_every_id(sample: str, tmp_path: Path) -> None:
    project = copy_project(sample, tmp_path)
    run = run_dbtest(project, env=base_env(project))
    run.expect_code(1 if {"failed", "error"} & set(PER_PLUGIN[sample].values()) else 0)
    assert run.outcomes == PER_PLUGIN[sample], run.describe()
    assert pytest_outcomes(project, tmp_path) == PER_PLUGIN[sample]


def test_hypothesis_shrinks_and_reports_the_failing_example(tmp_path: Path) -> None:
    project = copy_project("plugins_hypothesis", tmp_path)
    run = run_dbtest(project, "-k", "shrinks", env=base_env(project))
    run.expect_code(1)
    assert "x=10," in run.by_id["tests/test_given.py::test_shrinks_to_the_smallest_failure"]["traceback"], \
        run.describe()


DJANGO_FUNCTIONS = {
    "tests/test_django.py::test_settings_are_the_samples": "passed",
    "tests/test_django.py::test_database_is_there": "passed",
    "tests/test_django.py::test_each_test_rolls_back": "passed",
    "tests/test_django.py::test_database_without_the_mark_is_blocked": "failed",
    "tests/test_django.py::test_settings_fixture": "passed",
    "tests/test_django_testcase.py::TaggedCase::test_tagged_slow": "passed",
    "tests/test_django_testcase.py::TaggedCase::test_untagged": "passed",
}
DJANGO_DB_CASES = ("tests/test_django_testcase.py::NoteCase::test_class_data_is_there",
                   "tests/test_django_testcase.py::NoteCase::test_changes_roll_back")


@pytest.fixture
def django_project(tmp_path: Path) -> Path:
    # The `django` extra, kept out of `dev` (see pyproject.toml): installed, every test of the
    # environment runs alone.
    pytest.importorskip("pytest_django", reason="pytest-django's sample needs the `django` extra")
    return copy_project("plugins_django", tmp_path)


def test_django_settings_db_mark_and_fixtures_as_under_pytest(django_project: Path, tmp_path: Path) -> None:
    run = run_dbtest(django_project, env=base_env(django_project))
    run.expect_code(1)
    expected = {**DJANGO_FUNCTIONS, **dict.fromkeys(DJANGO_DB_CASES, "passed")}
    assert pytest_outcomes(django_project, tmp_path) == expected
    assert {k: v for k, v in run.outcomes.items() if k not in DJANGO_DB_CASES} == DJANGO_FUNCTIONS, run.describe()
    # Django's own TestCase with a database: pytest calls setUpClass inside pytest-django's
    # class-scoped autouse fixture that unblocks the database; dbtest calls it before any
    # fixture. Every id is there, errors at setup, and one warning names the fixture.
    assert {k: run.outcomes[k] for k in DJANGO_DB_CASES} == dict.fromkeys(DJANGO_DB_CASES, "error"), run.describe()
    named = [line for line in run.stderr.splitlines() if "setUpClass" in line]
    assert len(named) == 1 and "_django_setup_unittest" in named[0] and "pytest_django" in named[0], run.describe()


def test_django_ds_option_and_tags_as_marks(django_project: Path, tmp_path: Path) -> None:
    """`--ds` on the command line instead of the ini key (its value joined with `=`: dbtest's
    command line does not know which plugin options take one, and reads a separate word as a
    path); Django's `@tag` becomes a mark through pytest-django's `pytest_itemcollected`, so
    `-m` selects by it."""
    pyproject = django_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('DJANGO_SETTINGS_MODULE = "sample_settings"\n', ""))
    run = run_dbtest(django_project, "--ds=sample_settings", "-k", "test_django.py", env=base_env(django_project))
    run.expect_code(1)
    functions = {k: v for k, v in DJANGO_FUNCTIONS.items() if k.startswith("tests/test_django.py")}
    assert run.outcomes == functions, run.describe()
    slow = {"tests/test_django_testcase.py::TaggedCase::test_tagged_slow": "passed"}
    run = run_dbtest(django_project, "--ds=sample_settings", "-m", "slow", env=base_env(django_project))
    run.expect_code(0)
    assert run.outcomes == slow, run.describe()
    assert pytest_outcomes(django_project, tmp_path, "--ds", "sample_settings", "-m", "slow") == slow
