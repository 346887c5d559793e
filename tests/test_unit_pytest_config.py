"""pytest's own configuration (DESIGN §4b): `dbtest unit` finds and reads pytest.ini,
pyproject.toml's [tool.pytest.ini_options], tox.ini and setup.cfg as pytest does, so an
existing suite selects the same tests. The samples are written for pytest (they never import
dbtest), so their files run one test at a time; every expectation here was checked with
`pytest --co -q` on the same sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from _e2e import base_env, copy_project, run_dbtest


def project(tmp_path: Path, name: str) -> Path:
    return copy_project(f"pytest_config/{name}", tmp_path)


TESTPATHS = {
    "checks/check_math.py::test_addition",
    "checks/sub/strings_spec.py::TestStrings::test_upper",
}


def test_testpaths_python_files_and_norecursedirs(tmp_path):
    run = run_dbtest(project(tmp_path, "testpaths"))
    run.expect_code(0)
    assert run.outcomes == {test_id: "passed" for test_id in TESTPATHS}


def test_from_a_subfolder_it_looks_there_and_ids_stay_relative_to_the_rootdir(tmp_path):
    # As pytest: testpaths apply when started in the rootdir; below it, the folder the user
    # is in is searched, and ids are still pytest's node ids.
    root = project(tmp_path, "testpaths")
    run = run_dbtest(root / "checks" / "sub")
    run.expect_code(0)
    assert run.ids == {"checks/sub/strings_spec.py::TestStrings::test_upper"}
    run = run_dbtest(root / "tests")
    run.expect_code(0)
    assert run.ids == {"tests/check_outside.py::test_outside_testpaths"}


def test_without_any_configuration_the_rootdir_is_pytests_fallback(tmp_path):
    root = project(tmp_path, "tox_ini")
    (root / "tox.ini").unlink()
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n")
    run = run_dbtest(root / "tox_tests" / "sub")
    run.expect_code(0)
    assert run.ids == {"tox_tests/sub/test_deeper.py::test_deeper"}


def test_a_path_argument_wins_over_testpaths_but_python_files_still_apply(tmp_path):
    run = run_dbtest(project(tmp_path, "testpaths"), "tests")
    run.expect_code(0)
    assert run.ids == {"tests/check_outside.py::test_outside_testpaths"}


def test_the_pattern_flag_wins_over_python_files(tmp_path):
    run = run_dbtest(project(tmp_path, "testpaths"), "--pattern", "test_*.py")
    run.expect_code(1)
    assert run.outcomes == {
        "checks/test_default_name.py::test_not_collected_python_files_replaces_the_default": "failed"
    }


def test_addopts_mark_and_keyword_expressions_select(tmp_path):
    run = run_dbtest(project(tmp_path, "addopts"))
    run.expect_code(0)
    # -m 'not slow' and -k 'not skipped_by_keyword', as pytest selects them.
    assert run.outcomes == {"tests/test_marks.py::test_fast": "passed", "tests/test_marks.py::test_db": "passed"}


def test_workers_select_the_same_tests(tmp_path):
    run = run_dbtest(project(tmp_path, "addopts"), "--workers", "2")
    run.expect_code(0)
    assert run.outcomes == {"tests/test_marks.py::test_fast": "passed", "tests/test_marks.py::test_db": "passed"}


def test_unknown_addopts_options_are_named_once_each(tmp_path):
    root = project(tmp_path, "addopts")
    # Only the sample's own warnings: none of the plugins installed beside dbtest.
    run = run_dbtest(root, env=base_env(root, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"))
    warnings = [line for line in run.stderr.splitlines() if line.startswith("dbtest: warning:")]
    # --benchmark-disable is a plugin's option: named once the run knows no plugin of it is loaded.
    expected = (
        f"dbtest: warning: {root / 'pyproject.toml'}: addopts option --benchmark-disable is ignored: it is "
        "pytest-benchmark's, whose job is dbtest's engine (dbtest bench's engine measures `benchmark`)"
    )
    assert warnings == [expected], run.describe()


@pytest.mark.parametrize("flag", ["-m", "-t", "--tags"])
def test_the_command_line_mark_expression_wins_over_addopts(tmp_path, flag):
    run = run_dbtest(project(tmp_path, "addopts"), flag, "slow")
    run.expect_code(0)
    assert run.ids == {"tests/test_marks.py::test_slow"}


def test_pytest_ini_beats_pyproject_in_the_same_folder(tmp_path):
    run = run_dbtest(project(tmp_path, "precedence"))
    run.expect_code(0)
    assert run.ids == {"from_ini/test_ini.py::test_from_ini"}


def test_pyproject_is_read_without_pytest_ini(tmp_path):
    root = project(tmp_path, "precedence")
    (root / "pytest.ini").unlink()
    run = run_dbtest(root)
    run.expect_code(0)
    assert run.ids == {"from_pyproject/test_pyproject.py::test_from_pyproject"}


def test_setup_cfg_tool_pytest_with_exitfirst_from_addopts(tmp_path):
    run = run_dbtest(project(tmp_path, "setup_cfg"))
    run.expect_code(1)
    assert run.outcomes["cfg_tests/math_check.py::test_fails_first"] == "failed"
    # Not run after the first failure (reported as skipped, or not at all, as pytest does).
    assert run.outcomes.get("cfg_tests/math_check.py::test_not_reached_after_x") in (None, "skipped")
    assert "tests/test_not_in_testpaths.py::test_outside" not in run.ids


def test_maxfail_on_the_command_line_wins_over_addopts_x(tmp_path):
    run = run_dbtest(project(tmp_path, "setup_cfg"), "--maxfail", "5")
    run.expect_code(1)
    assert run.outcomes["cfg_tests/math_check.py::test_not_reached_after_x"] == "passed"


def test_tox_ini_pytest_section(tmp_path):
    run = run_dbtest(project(tmp_path, "tox_ini"))
    run.expect_code(0)
    assert run.outcomes == {
        "tox_tests/test_tox.py::test_from_tox": "passed",
        "tox_tests/sub/test_deeper.py::test_deeper": "passed",
        # reads xfail_strict, testpaths, the inifile and the rootdir through pytestconfig
        "tox_tests/test_settings.py::test_settings_reach_pytestconfig": "passed",
    }


@pytest.mark.parametrize("overlap", ["native", "all", "none"])
def test_every_overlap_setting_keeps_the_verdicts(tmp_path, overlap):
    run = run_dbtest(project(tmp_path, "tox_ini"), "--overlap", overlap)
    run.expect_code(0)
    assert set(run.outcomes.values()) == {"passed"}


def test_a_bad_overlap_value_is_a_usage_error(tmp_path):
    run = run_dbtest(project(tmp_path, "tox_ini"), "--overlap", "sometimes", json_report=False)
    run.expect_code(4)


@pytest.mark.parametrize(
    "sample, file, text, needle",
    [
        ("tox_ini", "pytest.ini", "[pytest]\naddopts -x\n", "line 2: unexpected line: 'addopts -x'"),
        ("tox_ini", "tox.ini", "[pytest]\naddopts = -m 'not slow\n", "No closing quotation"),
        ("tox_ini", "tox.ini", "[pytest]\nxfail_strict = maybe\n", "invalid truth value 'maybe'"),
        ("tox_ini", "tox.ini", "[pytest]\naddopts = -k 'add and'\n", "at column 8"),
        ("setup_cfg", "setup.cfg", "[pytest]\ntestpaths = x\n", "change to [tool:pytest] instead"),
        ("precedence", "pyproject.toml", "[tool.pytest.ini_options\ntestpaths = 1\n", "is not valid TOML"),
        ("precedence", "pyproject.toml", "[tool.pytest]\ntestpaths = 'from_ini'\n", "expects a list"),
    ],
    ids=["ini-syntax", "addopts-quotes", "bool", "keyword-expression", "setup-cfg-section", "toml-syntax",
         "toml-type"],
)
def test_a_bad_config_file_is_named_and_exits_4(tmp_path, sample, file, text, needle):
    root = project(tmp_path, sample)
    if sample == "precedence":
        (root / "pytest.ini").unlink()
    (root / file).write_text(text)
    run = run_dbtest(root, json_report=False)
    run.expect_code(4)
    output = run.stdout + run.stderr
    assert str(root / file) in output, run.describe()
    assert needle in output, run.describe()
    assert "Traceback" not in output, run.describe()
