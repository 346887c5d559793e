"""Capture that holds, tried as a user would (tests/data/capture_leaks): what threads a test
starts print is that test's; what a test that runs alone writes to file descriptors 1 and 2
(a subprocess, os.write) is its own output, in order with its prints; log records are kept
with the test (the JSON report's `log`, the console's "captured log" with a failure, JUnit's
system-err); a passing test's output is never printed. The same in-process and with
`--workers 2`, and on every run."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from _e2e import Run, base_env, copy_project, dbtest_cmd, run_dbtest

CHILD_OUT, CHILD_ERR = "<child out>\n", "<child err>\n"
LOG_CALL = (
    "INFO     app.orders:test_logs.py:9 <info order=42>\n"
    "WARNING  app.orders:test_logs.py:10 <warning stock low>\n"
)

# id: (outcome, stdout, stderr, log); None: no `log` key in the report.
EXPECTED: dict[str, tuple[str, str, str, str | None]] = {
    "test_threads.py::test_thread_prints": (
        "passed", "<main before>\n<thread out>\n<main after>\n", "<thread err>\n", None,
    ),
    "test_threads.py::test_executor_prints": (
        "passed", "<pool a out>\n<pool b out>\n", "<pool a err>\n<pool b err>\n", None,
    ),
    "test_threads.py::test_executor_thread_reused_by_the_next_test": (
        "passed", "<pool reused out>\n", "<pool reused err>\n", None,
    ),
    "test_threads.py::test_thread_subclass_prints": ("passed", "<subclass out>\n", "<subclass err>\n", None),
    "test_threads.py::test_starts_a_thread_that_outlives_it": ("passed", "<starter>\n", "", None),
    # The thread of the test before prints while this one runs alone: here, not lost.
    "test_threads.py::test_runs_while_the_late_thread_prints": ("passed", "<late thread out>\n", "", None),
    "test_fds.py::test_subprocess_prints_to_fd_1_and_2": (
        "passed",
        f"<py before>\n{CHILD_OUT}<fd 1 direct>\n<py after>\n",
        f"{CHILD_ERR}<fd 2 direct>\n",
        None,
    ),
    "test_fds.py::test_subprocess_output_then_fails": ("failed", CHILD_OUT, CHILD_ERR, None),
    "test_fds.py::test_capfd_still_reads_fd_output": ("passed", "<after readouterr>\n", "", None),
    "test_logs.py::test_logs_then_fails": ("failed", "<printed before logging>\n", "", LOG_CALL),
    "test_logs.py::test_logs_and_passes": (
        "passed", "", "", "WARNING  app.orders:test_logs.py:15 <warning of a passing test>\n",
    ),
    # DEBUG is below the project's log_level (INFO): caplog has it, the report does not.
    "test_logs.py::test_caplog_keeps_working": ("passed", "", "", None),
    "test_quiet.py::test_passing_test_prints": (
        "passed", "<passing print>\n<passing child>\n", "<passing print err>\n", None,
    ),
    # A file written for dbtest may overlap: fds 1 and 2 stay the process's (see below).
    "test_native.py::test_native_thread_prints": ("passed", "<native thread out>\n", "", None),
    "test_native.py::test_native_subprocess_prints": ("passed", "", "", None),
}

# Output of passing tests: in their report entries, never on the console.
PASSING_MARKERS = (
    "<passing print>", "<passing print err>", "<passing child>", "<thread out>", "<pool a out>",
    "<pool reused err>", "<late thread out>", "<fd 1 direct>", "<fd 2 direct>", "<py before>",
    "<warning of a passing test>", "<native thread out>",
)


def _entries(run: Run) -> dict[str, tuple[str, str, str, str | None]]:
    assert run.report is not None, run.describe()
    return {t["id"]: (t["outcome"], t["stdout"], t["stderr"], t.get("log")) for t in run.report["tests"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return copy_project("capture_leaks", tmp_path_factory.mktemp("capture_leaks"))


@pytest.fixture(scope="module")
def in_process(project) -> Run:
    return run_dbtest(project, ".", "--junit-xml", str(project.parent / "junit.xml"))


@pytest.fixture(scope="module")
def in_workers(project) -> Run:
    return run_dbtest(project, ".", "--workers", "2")


@pytest.fixture(params=["in_process", "in_workers"])
def run(request) -> Run:
    return request.getfixturevalue(request.param)


def test_every_test_keeps_exactly_its_output_and_log(run):
    got = _entries(run)
    assert set(got) == set(EXPECTED), run.describe()
    for test_id, expected in EXPECTED.items():
        assert got[test_id] == expected, f"{test_id}\n{run.describe()}"
    run.expect_code(1)


def test_a_failure_shows_its_log_on_the_console(run):
    section = "--- captured stdout ---\n<printed before logging>\n--- captured log ---\n" + LOG_CALL
    assert section in run.stdout, run.describe()
    assert "<debug is below log_level>" not in run.stdout + run.stderr
    # And fd-level output of a failing test, as its own.
    assert f"--- captured stdout ---\n{CHILD_OUT}--- captured stderr ---\n{CHILD_ERR}" in run.stdout, run.describe()


def test_a_passing_tests_output_is_not_printed(run):
    for marker in PASSING_MARKERS:
        assert marker not in run.stdout + run.stderr, f"{marker}\n{run.describe()}"


def test_fd_output_of_tests_that_may_overlap_reaches_the_console(in_process):
    # Not captured (another test could be writing to the same descriptors), but not lost.
    assert "<native child out>" in in_process.stdout, in_process.describe()


def test_fd_output_of_tests_that_may_overlap_in_a_worker_reaches_the_console(in_workers):
    # A worker's descriptors 1 and 2 go to the parent, which shows what arrives there.
    assert "<native child out>" in in_workers.stdout + in_workers.stderr, in_workers.describe()


def test_junit_has_the_log_after_stderr(in_process, project):
    root = ET.parse(project.parent / "junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    err = cases["test_logs_then_fails"].find("system-err")
    assert err is not None
    assert err.text == " Captured Log ".center(80, "-") + "\n" + LOG_CALL


def test_runs_twice_with_the_same_result(project, in_process):
    again = run_dbtest(project, ".")
    assert _entries(again) == _entries(in_process)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (POSIX)")
def test_the_progress_line_never_lands_in_a_tests_output(tmp_path):
    # The progress line is drawn on stderr only when it is a terminal, also while a test
    # whose fd 2 points at its capture file runs: it must reach the terminal, not the test.
    (tmp_path / "test_waits.py").write_text(
        "import time\n\ndef test_waits():\n    print('<waiting>')\n    time.sleep(0.5)\n"
    )
    report = tmp_path / "r.json"
    main, other = os.openpty()
    try:
        proc = subprocess.run(
            dbtest_cmd(".", "--json", str(report)), cwd=tmp_path, env=base_env(tmp_path),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=other, timeout=60,
        )
    finally:
        os.close(other)
    terminal = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the other end is closed: all read
            break
        if not chunk:
            break
        terminal += chunk
    os.close(main)
    assert proc.returncode == 0, proc.stdout
    (entry,) = json.loads(report.read_text())["tests"]
    assert entry["stdout"] == "<waiting>\n"
    assert entry["stderr"] == ""
    assert b"1/1 files" in terminal or b"0/1 files" in terminal, terminal[-500:]


def test_a_test_past_its_timeout_keeps_what_it_printed_and_logged(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nlog_level = "INFO"\n')
    (tmp_path / "test_hangs.py").write_text(
        "import logging, threading\n\n"
        "def test_hangs():\n"
        "    print('<before the hang>')\n"
        "    logging.getLogger('app').info('<logged before the hang>')\n"
        "    threading.Event().wait(30)\n"
    )
    run = run_dbtest(tmp_path, ".", "--timeout", "1")
    entry = run.by_id["test_hangs.py::test_hangs"]
    assert entry["outcome"] == "timeout", run.describe()
    assert "<before the hang>" in entry["stdout"], run.describe()
    assert "<logged before the hang>" in entry.get("log", ""), run.describe()
