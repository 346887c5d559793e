"""pytest's addopts that change where a run's files come from and go to (DESIGN section 4b):
`--junitxml PATH` (dbtest writes its JUnit report there), `--import-mode=importlib` (no
sys.path change, a module name from the file's path), `-o key=value` (as pytest 9), and `--strict-config`
(a key nothing declares is a usage error, exit 4, named as pytest names it).

tests/data/pytest_addopts holds one project per case; each is compared with pytest (every
supported pytest for importlib mode, whose rules changed between 7.4 and 9.x).
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _e2e import base_env, copy_project, run_dbtest
from _pytest_venvs import PYTESTS, python_for
from test_unit_fixture_params import run_pytest

IMPORTLIB_EXPECTED = {
    "tests/a/test_same.py::test_named_by_its_path": "passed",
    "tests/a/test_same.py::test_sys_path_untouched": "passed",
    "tests/b/test_same.py::test_named_by_its_path": "passed",
    "tests/b/test_same.py::test_sys_path_untouched": "passed",
}


@pytest.fixture(scope="module", params=PYTESTS)
def python(request: pytest.FixtureRequest) -> str:
    return python_for(request.param)


def test_importlib_mode_and_junitxml(python: str, tmp_path: Path) -> None:
    project = copy_project("pytest_addopts/importlib", tmp_path)
    pytest_tests = run_pytest(python, project, tmp_path)
    assert {t["id"]: t["outcome"] for t in pytest_tests} == IMPORTLIB_EXPECTED
    junit = project / "reports" / "junit.xml"
    junit.unlink()  # pytest's; dbtest writes its own in the same place
    run = run_dbtest(project, python=python)
    run.expect_code(0)
    assert run.outcomes == IMPORTLIB_EXPECTED, run.describe()
    assert "is ignored" not in run.stderr, run.describe()
    cases = ET.parse(junit).getroot().iter("testcase")
    assert len(list(cases)) == len(IMPORTLIB_EXPECTED)


def test_overrides_from_addopts_replace_the_files_values(tmp_path: Path) -> None:
    # pytest 9 applies addopts' -o (7.x and 8.x only apply it from the command line): the
    # rule of the pytest this suite runs on, which dbtest follows.
    project = copy_project("pytest_addopts/override", tmp_path)
    pytest_tests = run_pytest(sys.executable, project, tmp_path)
    run = run_dbtest(project)
    assert run.outcomes == {t["id"]: t["outcome"] for t in pytest_tests}, run.describe()
    if pytest.version_tuple >= (9,):
        assert run.outcomes == {
            "tests/test_override.py::test_unexpected_pass": "failed",
            "tests/test_override.py::test_markers_from_the_override": "passed",
        }


def test_strict_config_names_an_unknown_key(tmp_path: Path) -> None:
    project = copy_project("pytest_addopts/strict_config", tmp_path)
    pytest_run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], cwd=project,
                                env=base_env(project), capture_output=True, text=True, check=False, timeout=120)
    assert pytest_run.returncode == 4
    assert "Unknown config option: colour" in pytest_run.stderr
    run = run_dbtest(project)
    run.expect_code(4)
    # Only the key nothing declares: pytest's xfail_strict and the conftest's service_url are known.
    errors = [line for line in run.stderr.splitlines() if "Unknown config option" in line]
    expected = f"dbtest: error: Unknown config option: colour (in {project / 'pytest.ini'}; --strict-config is on)"
    assert errors == [expected], run.describe()
    assert run.report is None or not run.report["tests"]


def test_strict_config_passes_a_declared_configuration(tmp_path: Path) -> None:
    project = copy_project("pytest_addopts/strict_config", tmp_path)
    ini = project / "pytest.ini"
    ini.write_text(ini.read_text().replace("colour = blue\n", ""))
    run = run_dbtest(project)
    run.expect_code(0)
    assert run.outcomes == {"tests/test_service.py::test_url": "passed"}
