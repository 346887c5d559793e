"""End-to-end tests of debugging in a real terminal (DESIGN section 4f): `breakpoint()`,
`--pdb`, `--trace` and `-s`, with `python -m dbtest unit` on a pseudo-terminal, reading the
screen as a person would and typing at the prompt."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from _e2e import ANSI, RUN_TIMEOUT_S, base_env, copy_project, dbtest_cmd, run_dbtest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


class Terminal:
    """`dbtest unit ARGS` on a pseudo-terminal of its own (its controlling terminal, 40x120):
    what it shows, as plain text, and a keyboard."""

    def __init__(self, project: Path, *args: str) -> None:
        env = base_env(project, TERM="xterm")
        argv = dbtest_cmd(*args)
        pid, fd = pty.fork()
        if pid == 0:  # the child: dbtest, with the terminal as stdin, stdout and stderr
            try:
                os.chdir(project)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.pid, self.fd = pid, fd
        self.raw = ""
        self.seen = 0  # where the next `expect` starts looking
        self.code: int | None = None

    @property
    def screen(self) -> str:
        return ANSI.sub("", self.raw).replace("\r", "")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the other side is closed
            chunk = b""
        if not chunk:
            return False
        self.raw += chunk.decode("utf-8", "replace")
        return True

    def expect(self, text: str) -> str:
        """Waits until `text` shows (after what earlier calls found); what came before it."""
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            screen = self.screen
            at = screen.find(text, self.seen)
            if at >= 0:
                before = screen[self.seen:at]
                self.seen = at + len(text)
                return before
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"{text!r} never showed; the screen:\n{screen}")

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def finish(self) -> int:
        """Reads to the end; the exit code."""
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while self._read(0.2):
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the run never ended; the screen:\n{self.screen}")
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def kill(self) -> None:
        if self.code is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.code = -9


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("debugging", tmp_path)


@pytest.fixture
def terminals():
    started: list[Terminal] = []
    yield started
    for terminal in started:
        terminal.kill()


def _open(terminals: list[Terminal], project: Path, *args: str) -> Terminal:
    terminal = Terminal(project, *args)
    terminals.append(terminal)
    return terminal


def test_breakpoint_shows_the_prompt_with_the_source_line_and_takes_commands(project: Path, terminals) -> None:
    t = _open(terminals, project, "test_breakpoint.py::test_sync_breakpoint")
    t.expect("PDB set_trace (IO-capturing turned off)")
    t.expect("-> assert word.startswith(\"fig\")")
    t.expect("(Pdb)")
    t.type("p word")
    answered = t.expect("'figwig'")
    # While the debugger has the terminal, the live line is not redrawn over it.
    assert "tests ]" not in answered, t.screen
    t.expect("(Pdb)")
    t.type("c")
    t.expect("PDB continue (IO-capturing resumed)")
    assert t.finish() == 0, t.screen
    assert "1 passed" in t.screen


def test_pdb_set_trace_and_a_second_test_after_it(project: Path, terminals) -> None:
    t = _open(terminals, project, "test_breakpoint.py")
    for variable, value in (("word", "'figwig'"), ("colour", "'teal'")):
        t.expect("(Pdb)")
        t.type(f"p {variable}")
        t.expect(value)
        t.type("c")
    assert t.finish() == 0, t.screen
    assert "2 passed" in t.screen


def test_breakpoint_in_an_async_test_on_the_runs_loop(project: Path, terminals) -> None:
    t = _open(terminals, project, "test_async_breakpoint.py")
    t.expect("-> assert planet.startswith(\"nep\")")
    t.expect("(Pdb)")
    t.type("p planet")
    t.expect("'neptune'")
    t.type("c")
    assert t.finish() == 0, t.screen
    assert "2 passed" in t.screen


def test_pdb_opens_at_a_failure_with_its_locals(project: Path, terminals) -> None:
    t = _open(terminals, project, "--pdb", "test_failure.py")
    t.expect("entering PDB")
    t.expect("-> assert answer == len(fruits) * 21")
    t.expect("(Pdb)")
    t.type("p fruits")
    t.expect("['kiwi', 'fig']")
    t.type("p answer + 1")
    t.expect("42")
    t.type("c")
    assert t.finish() == 1, t.screen
    assert "1 failed" in t.screen and "1 passed" in t.screen


def test_quitting_the_debugger_ends_the_run(project: Path, terminals) -> None:
    t = _open(terminals, project, "--pdb", "test_failure.py")
    t.expect("(Pdb)")
    t.type("q")
    t.expect("Quitting debugger")
    assert t.finish() == 2, t.screen


def test_trace_stops_at_the_first_line_of_each_test(project: Path, terminals) -> None:
    t = _open(terminals, project, "--trace", "test_failure.py::test_passes_after")
    t.expect("PDB runcall (IO-capturing turned off)")
    t.expect("-> assert True")
    t.expect("(Pdb)")
    t.type("c")
    assert t.finish() == 0, t.screen


def test_s_shows_a_print_while_the_test_still_runs(project: Path, terminals) -> None:
    t = _open(terminals, project, "-s", "test_prints.py")
    t.expect("STEP ONE is on the screen")
    # The test is still waiting: it ends only once it sees the go.
    (project / "go").touch()
    t.expect("STEP TWO after the go")
    assert t.finish() == 0, t.screen
    assert "1 passed" in t.screen


def test_a_debugger_reads_a_piped_stdin(project: Path) -> None:
    """pytest's behaviour without a terminal: the debugger reads its commands from stdin."""
    done = subprocess.run(
        dbtest_cmd("test_breakpoint.py::test_sync_breakpoint"), cwd=project, env=base_env(project),
        input="p word\nc\n", capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(Pdb) 'figwig'" in done.stdout


def test_a_breakpoint_in_a_worker_says_it_needs_the_test_in_process(project: Path) -> None:
    run = run_dbtest(project, "--workers", "1", "test_breakpoint.py::test_sync_breakpoint")
    assert run.outcomes == {"test_breakpoint.py::test_sync_breakpoint": "failed"}, run.describe()
    assert "--workers 0" in run.stdout


def test_pdb_with_workers_runs_in_process_and_says_so(project: Path) -> None:
    done = subprocess.run(
        dbtest_cmd("--pdb", "--workers", "2", "test_failure.py::test_passes_after"), cwd=project,
        env=base_env(project), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--workers is not used" in done.stderr


@pytest.mark.parametrize(("mode", "shown", "kept"), [("no", True, False), ("tee-sys", True, True),
                                                       ("sys", False, True), ("fd", False, True)])
def test_capture_modes(project: Path, mode: str, shown: bool, kept: bool) -> None:
    (project / "go").touch()
    run = run_dbtest(project, f"--capture={mode}", "test_prints.py")
    assert run.outcomes == {"test_prints.py::test_prints_then_waits": "passed"}, run.describe()
    assert ("STEP ONE is on the screen" in run.stdout) == shown, run.describe()
    report = run.report["tests"][0]["stdout"]
    assert ("STEP ONE is on the screen" in report) == kept, report


@pytest.mark.parametrize(("style", "shown", "not_shown"), [
    # The file names pytest: its asserts are pytest's, rewritten, and explained as pytest does.
    ("short", ["test_failure.py:7: in test_fails_with_locals", "E   assert 41 == (2 * 21)"], ["Traceback"]),
    ("line", ["test_failure.py:7: assert 41 == (2 * 21)"], ["Traceback", "in test_fails_with_locals"]),
    ("native", ["Traceback (most recent call last):", "AssertionError"], ["_driver.py", "E       assert"]),
    ("no", ["test_failure.py:4: failed"], ["Traceback", "test_failure.py:7"]),
])
def test_tb_styles(project: Path, style: str, shown: list[str], not_shown: list[str]) -> None:
    run = run_dbtest(project, f"--tb={style}", "test_failure.py")
    assert run.outcomes == {"test_failure.py::test_fails_with_locals": "failed",
                            "test_failure.py::test_passes_after": "passed"}, run.describe()
    failures = run.stdout[run.stdout.index("FAILURES"):]
    for text in shown:
        assert text in failures, failures
    for text in not_shown:
        assert text not in failures, failures


def test_showlocals_and_debugging_options_from_addopts(project: Path) -> None:
    (project / "pytest.ini").write_text("[pytest]\naddopts = -l --tb=short -s\n")
    (project / "go").touch()
    run = run_dbtest(project, "test_failure.py", "test_prints.py::test_prints_then_waits")
    assert "has no effect" not in run.stderr, run.stderr
    assert "STEP ONE is on the screen" in run.stdout, run.describe()
    failures = run.stdout[run.stdout.index("FAILURES"):]
    assert "fruits     = ['kiwi', 'fig']" in failures and "answer     = 41" in failures, failures
    assert "E   assert 41 == (2 * 21)" in failures


def test_tests_that_would_start_wait_while_a_debugger_is_open(project: Path, terminals) -> None:
    t = _open(terminals, project, "test_hold_a.py", "test_hold_b.py")
    t.expect("-> assert stopped")
    t.expect("(Pdb)")
    (project / "prompt_seen").touch()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not (project / "first_done").exists():  # the other file's first test has ended
        assert time.monotonic() < deadline, t.screen
        time.sleep(0.02)
    # Without the hold, the next test would have started by now, before this.
    (project / "typed_c").touch()
    t.type("c")
    assert t.finish() == 0, t.screen
    assert "3 passed" in t.screen


def test_pdb_at_a_unittest_failure_reads_a_piped_stdin(project: Path) -> None:
    done = subprocess.run(
        dbtest_cmd("--pdb", "test_unittest_failure.py"), cwd=project, env=base_env(project),
        input="p shelf\nc\n", capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "-> self.assertEqual(shelf[\"jam\"], 4)" in done.stdout
    assert "(Pdb) {'jam': 3}" in done.stdout


def test_trace_steps_through_an_async_test_on_the_loop(project: Path) -> None:
    done = subprocess.run(
        dbtest_cmd("--trace", "test_async_breakpoint.py::test_overlapping_neighbour"), cwd=project,
        env=base_env(project), input="n\nc\n", capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    first = done.stdout.index("-> await asyncio.sleep(0.01)")
    # `n` steps over the await (the loop runs it) to the next line of the coroutine.
    assert done.stdout.index("-> assert True") > first, done.stdout
    assert "1 passed" in done.stdout
