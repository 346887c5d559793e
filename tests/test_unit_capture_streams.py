"""The standard streams while `dbtest unit` captures output, as under pytest (issue 20):
reading sys.stdin raises OSError (pytest's `DontReadFromInput`), and sys.stdout / sys.stderr
are the capture's again before every test that runs alone, as pytest's global capture puts its
own back, so a stream the test before left behind (closed) breaks nothing.
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
    "tests/test_streams.py::test_reading_stdin_raises": "passed",
    "tests/test_streams.py::test_reading_stdin_bytes_raises": "passed",
    "tests/test_streams.py::test_stdin_is_no_terminal": "passed",
    "tests/test_streams.py::test_patch_stdout_over_capsys": "passed",
    "tests/test_streams.py::test_print_after_the_patch": "passed",
    "tests/test_streams.py::test_saved_stream_after_the_patch": "passed",
    "tests/test_streams.py::test_saved_stream_seen_by_capsys": "passed",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project("capture_streams", tmp_path_factory.mktemp("streams"))


def test_streams_behave_as_under_pytest(project: Path) -> None:
    run = run_dbtest(project, "tests")
    run.expect_code(0)
    assert run.outcomes == EXPECTED, run.describe()
    # What the tests after the patch printed is theirs, in their reports.
    assert run.by_id["tests/test_streams.py::test_print_after_the_patch"]["stdout"] == (
        "still printing\nand writing\nand bytes\n"
    )
    assert run.by_id["tests/test_streams.py::test_saved_stream_after_the_patch"]["stdout"] == (
        "through the saved stream\n"
    )


def test_matches_pytest(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "pytest.json"
    env = base_env(project, SUITES_OUTCOMES_JSON=str(out),
                   PYTHONPATH=os.pathsep.join([str(BENCHES), os.environ.get("PYTHONPATH", "")]))
    subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-p", "suites_pytest_outcomes"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )
    assert {t["id"]: t["outcome"] for t in json.loads(out.read_text())["tests"]} == EXPECTED
