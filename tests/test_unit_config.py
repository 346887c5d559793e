"""`[tool.dbtest]` in pyproject.toml (DESIGN §4): settings mirror the flags, flags win, and a
bad table is a usage error (exit 4) that names the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from _e2e import copy_project, run_dbtest

CHECKS = {"checks/check_math.py::test_addition", "checks/check_math.py::test_subtraction"}


@pytest.fixture
def config_project(tmp_path) -> Path:
    return copy_project("config", tmp_path)


def test_paths_and_pattern_from_pyproject(config_project):
    run = run_dbtest(config_project)
    run.expect_code(0)
    assert run.outcomes == {test_id: "passed" for test_id in CHECKS}
    assert run.lines[-1] == "2 passed, 0 failed, 0 skipped"


def test_pattern_flag_wins_over_pyproject(config_project):
    run = run_dbtest(config_project, "--pattern", "test_*.py")
    run.expect_code(0)
    assert run.ids == {"checks/test_wrong_pattern.py::test_only_with_default_pattern"}


def test_path_argument_wins_over_pyproject_paths(config_project):
    run = run_dbtest(config_project, "tests", "--pattern", "test_*.py")
    run.expect_code(0)
    assert run.ids == {"tests/test_outside_paths.py::test_only_when_tests_is_named"}


def test_configured_paths_from_a_subfolder(config_project):
    # [tool.dbtest] paths belong to the project (the folder of pyproject.toml), not to the
    # folder dbtest happens to be started in; ids stay relative to the project.
    run = run_dbtest(config_project / "checks")
    run.expect_code(0)
    assert run.ids == CHECKS


def test_default_paths_is_tests_folder(tmp_path):
    project = copy_project("config", tmp_path)
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n")
    run = run_dbtest(project)
    run.expect_code(0)
    assert run.ids == {"tests/test_outside_paths.py::test_only_when_tests_is_named"}


@pytest.mark.parametrize(
    "table, key",
    [
        ("jbos = 3", "jbos"),
        ("paths = ['tests']\nno_such_setting = true", "no_such_setting"),
        ("jobs = 0", "jobs"),
        ("jobs = 'many'", "jobs"),
        ("timeout = 'soon'", "timeout"),
        ("timeout = -1.0", "timeout"),
        ("maxfail = 0", "maxfail"),
        ("color = 'sometimes'", "color"),
        ("pattern = ''", "pattern"),
        ("paths = 'tests'", "paths"),
    ],
    ids=["unknown-key", "unknown-key-2", "jobs-0", "jobs-str", "timeout-str", "timeout-negative",
         "maxfail-0", "color-value", "pattern-empty", "paths-not-list"],
)
def test_bad_config_exits_4_naming_the_key(tmp_path, table, key):
    project = copy_project("config", tmp_path)
    (project / "pyproject.toml").write_text(f"[project]\nname = 'x'\nversion = '0'\n\n[tool.dbtest]\n{table}\n")
    run = run_dbtest(project, json_report=False)
    run.expect_code(4)
    output = run.stdout + run.stderr
    assert key in output, run.describe()
    assert "Traceback" not in output, run.describe()


def test_malformed_toml_exits_4(tmp_path):
    project = copy_project("config", tmp_path)
    (project / "pyproject.toml").write_text("[tool.dbtest]\npaths = [\n")
    run = run_dbtest(project, json_report=False)
    run.expect_code(4)
    assert "pyproject.toml" in run.stdout + run.stderr, run.describe()


def _with_table(project: Path, table: str) -> Path:
    (project / "pyproject.toml").write_text(f"[project]\nname = 'x'\nversion = '0'\n\n[tool.dbtest]\n{table}\n")
    return project


@pytest.mark.parametrize(
    "table, flags, expected",
    [
        ('tags = "db and not slow"', [], {"test_sel.py::test_db_crud", "test_other.py::test_other_db"}),
        ('tags = "db and not slow"', ["-t", "api"],
         {"test_sel.py::TestGroup::test_one", "test_sel.py::TestGroup::test_two"}),
        ('match = ["*alpha*"]', [], {"test_sel.py::test_alpha", "test_sel.py::test_alphabet"}),
        ('match = ["*alpha*"]', ["-k", "beta"], {"test_sel.py::test_beta"}),
        ('pattern = "check_*.py"', [], {"check_extra.py::test_extra_one", "check_extra.py::test_extra_two"}),
        ('paths = ["test_other.py"]', [], {"test_other.py::test_other_db", "test_other.py::test_other_plain"}),
    ],
    ids=["tags", "tags-flag-wins", "match", "match-flag-wins", "pattern", "paths"],
)
def test_selection_settings_mirror_flags(tmp_path, table, flags, expected):
    project = _with_table(copy_project("selection", tmp_path), table)
    run = run_dbtest(project, *flags)
    run.expect_code(0)
    assert run.ids == expected


def test_report_settings(tmp_path):
    project = _with_table(
        copy_project("junit", tmp_path),
        'paths = ["."]\njson = "cfg.json"\njunit-xml = "cfg.xml"\nmarkdown = "cfg.md"',
    )
    run = run_dbtest(project, json_report=False)
    run.expect_code(1)
    for name in ("cfg.json", "cfg.xml", "cfg.md"):
        assert (project / name).exists(), (name, run.describe())
    # A flag wins over the setting.
    (project / "cfg.json").unlink()
    run = run_dbtest(project, "--json", "flag.json", json_report=False)
    run.expect_code(1)
    assert (project / "flag.json").exists()
    assert not (project / "cfg.json").exists()


def test_run_control_settings(tmp_path):
    failfast = _with_table(copy_project("failfast", tmp_path), 'paths = ["."]\nmaxfail = 2')
    run = run_dbtest(failfast)
    run.expect_code(1)
    assert run.report["summary"]["failed"] == 2
    assert not (failfast / "t4.ran").exists()

    flaky = _with_table(copy_project("flaky", tmp_path), 'paths = ["."]\nretries = 1\nmatch = ["*::test_fails_once"]')
    run = run_dbtest(flaky)
    run.expect_code(0)
    assert run.report["tests"][0]["attempts"] == 2
    assert run.report["summary"]["flaky"] == 1


def test_timeout_setting(tmp_path):
    project = _with_table(copy_project("timeouts", tmp_path), 'paths = ["."]\ntimeout = 1.0')
    run = run_dbtest(project, "-k", "*async*", timeout=20)
    run.expect_code(1)
    assert run.outcomes == {"test_timeouts.py::test_async_sleeps": "timeout"}


def test_color_setting(tmp_path):
    from _e2e import ANSI

    project = _with_table(copy_project("junit", tmp_path), 'paths = ["."]\ncolor = "always"')
    run = run_dbtest(project)
    run.expect_code(1)
    assert ANSI.search(run.stdout)
    run = run_dbtest(project, "--color", "never")
    run.expect_code(1)
    assert not ANSI.search(run.stdout + run.stderr)
