"""Output printed by a test is captured per test, also when tests overlap (DESIGN §4): async
tests of different files overlap on the event loop and sync tests on threads (tests/data/capture
makes them wait for each other, so they surely do), and each test's `stdout` / `stderr` in the
JSON report holds exactly what it printed."""

from __future__ import annotations

import pytest

from _e2e import Run, copy_project, run_dbtest


def _expected() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for f in "abc":
        out[f"test_async_{f}.py::test_{f}_first"] = (
            f"<{f}1 out before>\n<{f}1 out after>\n",
            f"<{f}1 err before>\n<{f}1 err after>\n",
        )
        out[f"test_async_{f}.py::test_{f}_second"] = (f"<{f}2 out before>\n<{f}2 out after>\n", f"<{f}2 err only>\n")
        out[f"test_async_{f}.py::test_{f}_task"] = (
            f"<{f}3 out from task>\n<{f}3 out from task>\n<{f}3 out after task>\n",
            "",
        )
    for f in "xy":
        out[f"test_sync_{f}.py::test_{f}_first"] = (
            f"<{f}1 out before>\n<{f}1 out after>\n",
            f"<{f}1 err before>\n<{f}1 err after>\n",
        )
        out[f"test_sync_{f}.py::test_{f}_second"] = (f"<{f}2 out before>\n<{f}2 out after>\n", "")
        out[f"test_sync_{f}.py::test_{f}_silent"] = ("", "")
    out["test_mixed.py::test_m_sync_noisy"] = ("<m1 out 0>\n<m1 out 1>\n<m1 out 2>\n", "<m1 err>\n")
    out["test_mixed.py::test_m_async_noisy"] = ("<m2 out 0>\n<m2 out 1>\n<m2 out 2>\n", "")
    out["test_mixed.py::test_m_fails_after_print"] = ("<m3 out before failure>\n", "<m3 err before failure>\n")
    return out


EXPECTED = _expected()


@pytest.fixture(scope="module")
def capture_run(tmp_path_factory) -> Run:
    project = copy_project("capture", tmp_path_factory.mktemp("capture"))
    return run_dbtest(project, ".")


def test_capture_ids(capture_run):
    assert capture_run.report is not None, capture_run.describe()
    assert capture_run.ids == set(EXPECTED)


@pytest.mark.parametrize("test_id", sorted(EXPECTED))
def test_each_test_captures_exactly_its_own_output(capture_run, test_id):
    stdout, stderr = EXPECTED[test_id]
    got = capture_run.by_id[test_id]
    assert got["stdout"] == stdout
    assert got["stderr"] == stderr


def test_captured_output_does_not_leak_to_the_console(capture_run):
    # Passing tests' output is captured, not printed among the results.
    for marker in ("<a1 out before>", "<x1 out after>", "<b2 err only>"):
        assert marker not in capture_run.stdout + capture_run.stderr, capture_run.describe()


def test_overlapping_tests_all_pass(capture_run):
    # Each `first`/`second`/`task` test waits for its partners in the other files: they pass
    # only when tests of different files really overlap (DESIGN §2).
    expected = {test_id: "passed" for test_id in EXPECTED}
    expected["test_mixed.py::test_m_fails_after_print"] = "failed"
    assert capture_run.outcomes == expected, {
        t["id"]: t["message"] for t in capture_run.report["tests"] if t["outcome"] != "passed"
    }
    capture_run.expect_code(1)


def test_failing_test_output_is_shown(capture_run):
    # The output of a failing test is part of what the console shows about the failure.
    assert "<m3 out before failure>" in capture_run.stdout, capture_run.describe()
