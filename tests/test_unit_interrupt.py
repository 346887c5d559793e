"""Ctrl-C (DESIGN §4): exit code 2, and the partial report is still written."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from _e2e import base_env, closing_line, copy_project, dbtest_cmd


def _interrupt_when_ready(
    project: Path, report: Path, markers: list[Path], *, ready_within: float, never_ready: str,
    stops_within: float,
) -> tuple[int, str, str]:
    """Runs `dbtest unit . --json REPORT` in `project`, sends Ctrl-C once every marker file
    exists, and returns the exit code and output."""
    proc = subprocess.Popen(
        dbtest_cmd(".", "--json", str(report)),
        cwd=project,
        env=base_env(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + ready_within
        while not all(m.exists() for m in markers):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, never_ready
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=stops_within)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stdout, stderr


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_sigint_exits_2_and_writes_partial_report(tmp_path):
    project = copy_project("interrupt", tmp_path)
    report = tmp_path / "out.json"
    # Each file's slow test writes its marker after the file's quick tests have finished
    # (tests of one file run in their written order).
    markers = [project / "slow_async.started", project / "slow_sync.started"]
    returncode, stdout, stderr = _interrupt_when_ready(
        project, report, markers, ready_within=30, never_ready="the slow tests never started",
        # An upper bound: the slow tests sleep 30 s; an interrupted run stops well before.
        stops_within=10,
    )
    assert returncode == 2, (returncode, stdout, stderr)
    assert report.exists(), (stdout, stderr)
    data = json.loads(report.read_text())
    assert data["schema"] == "dbtest.report/1"
    outcomes = {t["id"]: t["outcome"] for t in data["tests"]}
    quick = [
        "test_interrupt.py::test_quick_1",
        "test_interrupt.py::test_quick_2",
        "test_interrupt.py::test_quick_3",
        "test_interrupt_sync.py::test_quick_sync",
    ]
    for test_id in quick:
        assert outcomes.get(test_id) == "passed", outcomes
    # The interrupted tests did not pass.
    assert outcomes.get("test_interrupt.py::test_slow") != "passed"
    assert outcomes.get("test_interrupt_sync.py::test_slow_sync") != "passed"
    by_id = {t["id"]: t for t in data["tests"]}
    assert by_id["test_interrupt.py::test_quick_3"]["stdout"] == "quick 3 output\n"
    assert data["summary"]["total"] == len(data["tests"])
    assert data["summary"]["passed"] == 4
    # The console still ends with the closing line, matching the partial report.
    assert stdout.rstrip("\n").splitlines()[-1] == closing_line(data["summary"]), stdout


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_a_stuck_import_does_not_hold_up_other_files(tmp_path):
    # Files are imported one at a time, but an import that takes long lets the others go
    # ahead: the quick file's test runs while the stuck file is still importing. (Were the
    # imports strictly one at a time, the quick file would run after 20 s at the earliest.)
    project = copy_project("stuck_import", tmp_path)
    report = tmp_path / "out.json"
    returncode, stdout, stderr = _interrupt_when_ready(
        project, report, [project / "quick.done"], ready_within=15, never_ready="the quick file never ran",
        stops_within=15,
    )
    assert (project / "import.started").exists()
    assert returncode == 2, (returncode, stdout, stderr)
    outcomes = {t["id"]: t["outcome"] for t in json.loads(report.read_text())["tests"]}
    assert outcomes == {"test_b_quick.py::test_quick": "passed"}, outcomes
