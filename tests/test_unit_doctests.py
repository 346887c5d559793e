"""Doctests as pytest's doctest plugin runs them (DESIGN section 4b), on tests/data/doctests:
`--doctest-modules` from addopts reads every `.py` file walked (a package's `__init__.py`, a
conftest, a test module, a helper that is no test module; never `__main__.py`), text files
matching pytest's default `--doctest-glob` (`test*.txt`) run too, `doctest_optionflags`
applies, ids are pytest's (`path::module.qualname`), and so are the outcomes (a failing
example or an unexpected exception fails, every example `+SKIP` skips). `test_matches_pytest`
checks the expectations against pytest itself.
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
    "src/calclib/__init__.py::calclib": "passed",
    "src/calclib/calc.py::calclib.calc.Stack": "passed",
    "src/calclib/calc.py::calclib.calc.Stack.push": "passed",
    "src/calclib/calc.py::calclib.calc.add": "passed",
    "src/calclib/calc.py::calclib.calc.elided": "passed",
    "src/calclib/calc.py::calclib.calc.raises": "failed",
    "src/calclib/calc.py::calclib.calc.skipped": "skipped",
    "src/calclib/calc.py::calclib.calc.spaced": "passed",
    "src/calclib/calc.py::calclib.calc.wrong": "failed",
    "tests/conftest.py::conftest": "passed",
    "tests/helpers.py::helpers": "passed",
    "tests/test_calc.py::test_calc": "passed",
    "tests/test_calc.py::test_add": "passed",
    "tests/test_guide.txt::test_guide.txt": "passed",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("doctests", tmp_path)


def test_outcomes_are_pytests(project: Path) -> None:
    run = run_dbtest(project)
    run.expect_code(1)
    assert run.outcomes == EXPECTED, run.describe()
    wrong = run.by_id["src/calclib/calc.py::calclib.calc.wrong"]
    assert "42" in (wrong["message"] or "") + (wrong["traceback"] or ""), run.describe()
    # The autouse fixture of tests/conftest.py is not applied to doctests: said, not silent.
    # (Installed plugins' autouse fixtures are named beside it.)
    said = [line for line in run.stderr.splitlines() if "doctests run without fixtures; not applied to them:" in line]
    assert any("_tidy" in line.split("not applied to them: ")[1].split(", ") for line in said), run.describe()


def test_without_doctest_modules_only_text_files_and_tests_run(project: Path) -> None:
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = src tests\npythonpath = src\n")
    run = run_dbtest(project)
    assert run.outcomes == {
        "tests/test_calc.py::test_add": "passed",
        "tests/test_guide.txt::test_guide.txt": "passed",
    }, run.describe()


def test_doctest_modules_and_glob_from_the_command_line(project: Path) -> None:
    (project / "pytest.ini").write_text("[pytest]\npythonpath = src\n")
    run = run_dbtest(project, "tests", "--doctest-modules", "--doctest-glob", "notes.txt")
    assert run.outcomes == {
        "tests/conftest.py::conftest": "passed",
        "tests/helpers.py::helpers": "passed",
        "tests/notes.txt::notes.txt": "failed",
        "tests/test_calc.py::test_calc": "passed",
        "tests/test_calc.py::test_add": "passed",
    }, run.describe()


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
