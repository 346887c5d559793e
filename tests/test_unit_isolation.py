"""What one test or file cannot do to the rest of a run: output that could tear the worker
protocol, an import that never returns, serial resources shared across worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from _e2e import DATA, closing_line, copy_project, log_lines, run_dbtest

# tests/data/worker_output/loud.py, as its tests print it.
_LOUD = (DATA / "worker_output" / "loud.py").read_text(encoding="utf-8")
_NS: dict[str, object] = {}
exec(compile(_LOUD, "loud.py", "exec"), _NS)


def assert_loud(stdout: str, test: str, at_least: int, exactly: bool) -> None:
    """Every line `test` printed arrived whole, each thread's in the order it wrote them."""
    line, threads = _NS["line"], _NS["THREADS"]
    lines = stdout.splitlines(keepends=True)
    seen = 0
    for thread in range(threads):  # type: ignore[call-overload]
        mine = [n for n in lines if n.startswith(f"{test} t{thread} ")]
        assert mine == [line(test, thread, n) for n in range(len(mine))], (test, thread)  # type: ignore[operator]
        assert len(mine) == at_least if exactly else len(mine) >= at_least, (test, thread, len(mine))
        seen += len(mine)
    assert seen == len(lines), f"{len(lines) - seen} lines of {test}'s output are not its lines"


def test_megabytes_of_output_from_threads_arrive_whole_under_workers(tmp_path: Path) -> None:
    project = copy_project("worker_output", tmp_path)
    run = run_dbtest(project, "--workers", "2", "-q", timeout=180)
    run.expect_code(1)
    assert run.outcomes == {
        "test_loud.py::test_loud_a": "passed",
        "test_loud.py::test_loud_b": "passed",
        "test_loud_other.py::test_loud_c": "passed",
        "test_loud_crash.py::test_loud_then_gone": "crashed",
    }, run.describe()
    lines: int = _NS["LINES"]  # type: ignore[assignment]
    assert len(run.by_id["test_loud.py::test_loud_a"]["stdout"]) > 800_000
    assert_loud(run.by_id["test_loud.py::test_loud_a"]["stdout"], "a", lines, exactly=True)
    assert_loud(run.by_id["test_loud.py::test_loud_b"]["stdout"], "b", 2 * lines, exactly=False)
    assert_loud(run.by_id["test_loud_other.py::test_loud_c"]["stdout"], "c", lines, exactly=True)
    crashed = run.by_id["test_loud_crash.py::test_loud_then_gone"]
    assert "exited with code 3" in crashed["message"]
    # The mirrored output of a test that took its worker down ends with its last words.
    assert crashed["stderr"].rstrip("\n").endswith(f"last words {_NS['PAYLOAD']}"), crashed["stderr"][-500:]
    for test in run.report["tests"]:  # type: ignore[index]
        assert "protocol" not in (test["message"] or "") + test["stderr"], test["id"]
    assert run.lines[-1] == closing_line(run.report["summary"])  # type: ignore[index]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_an_import_that_never_returns_is_an_error_after_the_collection_timeout(
    tmp_path: Path, workers: str
) -> None:
    project = copy_project("hung_import", tmp_path)
    # Above the engine's import turn (a file waits up to 2 s for a slow import before it goes
    # ahead beside it), so the quick file's wait is never mistaken for a hang.
    run = run_dbtest(project, "--workers", workers, "--collect-timeout", "10", timeout=120)
    run.expect_code(1)
    assert run.outcomes == {
        "test_a_sleeps.py": "error",
        "test_b_spins.py": "error",
        "test_c_fine.py::test_fine": "passed",
    }, run.describe()
    for file in ("test_a_sleeps.py", "test_b_spins.py"):
        message = run.by_id[file]["message"]
        assert message.startswith(f"collecting {file} did not finish within 10s (the collection timeout)"), message
        assert "--collect-timeout" in message
    assert run.lines[-1] == "1 passed, 2 failed, 0 skipped", run.describe()


def test_the_collection_timeout_is_a_setting_and_0_lifts_it(tmp_path: Path) -> None:
    project = copy_project("hung_import", tmp_path)
    (project / "pyproject.toml").write_text("[tool.dbtest]\ncollect_timeout = 10\n")
    run = run_dbtest(project, "test_b_spins.py", "test_c_fine.py", timeout=120)
    run.expect_code(1)
    assert "within 10s" in run.by_id["test_b_spins.py"]["message"]
    bad = run_dbtest(project, "--collect-timeout", "-1", json_report=False)
    bad.expect_code(4)
    (project / "pyproject.toml").write_text("[tool.dbtest]\ncollect_timeout = -1\n")
    bad = run_dbtest(project, json_report=False)
    bad.expect_code(4)
    assert "collect_timeout` must be a number of seconds (0 for no limit)" in bad.stderr, bad.describe()


@pytest.mark.parametrize("workers", ["0", "2"])
def test_serial_tests_never_overlap_across_workers_and_wait_outside_their_timeout(
    tmp_path: Path, workers: str
) -> None:
    project = copy_project("serial_workers", tmp_path)
    run = run_dbtest(project, "--workers", workers, "-v", timeout=120)
    run.expect_code(0)
    assert set(run.outcomes.values()) == {"passed"} and len(run.outcomes) == 5, run.describe()
    # When each serial test held the resource, by its own record.
    held: dict[str, dict[str, int]] = {}
    pids: dict[str, str] = {}
    for line in log_lines(project / "serial.log"):
        name, what, at, pid = line.split()
        held.setdefault(name, {})[what] = int(at)
        pids[name[0]] = pid
    assert set(held) == {"a1", "a2", "b2", "b3"}, held
    spans = sorted((h["start"], h["end"], name) for name, h in held.items())
    for (_, end, name), (start, _, after) in zip(spans, spans[1:]):
        assert end < start, f"{after} started while {name} held the resource: {spans}"
    if workers != "0":
        assert pids["a"] != pids["b"], "the two files ran in one process"
