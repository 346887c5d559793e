"""Debuggers in tests (DESIGN section 4f): `breakpoint()`, `pdb.set_trace()`, `--pdb` and
`--trace`, with pytest's behaviour (_pytest/debugging.py).

While a debugger talks to the user, the terminal is its own: the live display is erased and
stays off, fds 1 and 2 are the console's again, `sys.stdin` is the real one, and what the
debugged test prints goes to the terminal. Other tests wait: a test that starts while a
debugger is open holds until it is done (tests on the run's loop hold anyway: a debugger
blocks the loop's thread, or, in a sync test, waits for the terminal before they start).
`c` (continue) hands everything back; `q` (quit) ends the run, as pytest's `Exit`.

`--capture` modes live here too, as they decide what the terminal shows: `no` (`-s`), `sys`,
`fd` (the default) and `tee-sys` (see _capture.py).
"""

from __future__ import annotations

import asyncio
import bdb
import functools
import inspect
import os
import pdb  # noqa: T100 - the debugger is what this module hands the terminal to
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from . import _capture

# The settings of the run (`DebugSettings` of dbtest-core).
post_mortem_on_failure = False
trace_tests = False
# Stops the run at once, as Ctrl-C does (set by the CLI: the run's own `interrupt`).
interrupt_run: Callable[[], None] | None = None

# Set while a debugger has the terminal; tests that start then wait for it to clear.
_terminal_free = threading.Event()
_terminal_free.set()
_saved_set_trace: Callable[..., None] | None = None


def configure(settings: dict[str, Any] | None) -> None:
    """From the run's settings, before capture is installed."""
    global post_mortem_on_failure, trace_tests, _saved_set_trace
    settings = settings or {}
    in_worker = _capture.tee is not None
    # A worker's stdout is its channel to the parent: nothing of a test goes there as it is
    # written (the parent warned that -s does not apply with --workers).
    _capture.mode = "fd" if in_worker else settings.get("capture", "fd")
    post_mortem_on_failure = bool(settings.get("pdb"))
    trace_tests = bool(settings.get("trace"))
    if settings.get("tb", "auto") != "auto" or settings.get("showlocals"):
        from . import _failure

        _failure.tb_style = settings.get("tb", "auto")
        _failure.show_locals = bool(settings.get("showlocals"))
    if _saved_set_trace is None:
        _saved_set_trace = pdb.set_trace
        # `breakpoint()` calls `pdb.set_trace` (sys.breakpointhook's default, which honours
        # PYTHONBREAKPOINT), as under pytest.
        pdb.set_trace = _set_trace_in_worker if in_worker else set_trace


def unconfigure() -> None:
    global _saved_set_trace
    if _saved_set_trace is not None:
        pdb.set_trace = _saved_set_trace
        _saved_set_trace = None


class DebuggerNeedsTerminal(RuntimeError):
    pass


def _set_trace_in_worker(*args: Any, **kwargs: Any) -> None:
    raise DebuggerNeedsTerminal(
        "breakpoint() / pdb.set_trace() needs the test to run in the dbtest process: a worker "
        "(--workers) has no terminal. Run it with --workers 0 (dbtest unit -w 0 PATH::TEST)")


def set_trace(*args: Any, header: str | None = None, **kwargs: Any) -> None:
    """`pdb.set_trace()` and `breakpoint()` in a test: stops at the caller's next line."""
    frame = sys._getframe().f_back
    debugger = Debugger("set_trace", header=header)
    debugger.set_trace(frame)


# --- the terminal, handed to a debugger and back ----------------------------------------------


def _hold_display(held: bool) -> None:
    from . import _core

    if held:
        _core.hold_terminal()
    else:
        _core.release_terminal()


class _Handover:
    """The terminal while a debugger has it: one thread at a time (a debugger in another
    test waits for it), re-entrant within that thread (`debug` in pdb nests)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0
        self.owner: int | None = None
        self.stdin: Any = None

    def take(self) -> None:
        self.lock.acquire()
        self.depth += 1
        if self.depth > 1:
            return
        self.owner = threading.get_ident()
        _terminal_free.clear()
        _capture.suspend_fd()
        _hold_display(True)
        self.stdin = sys.stdin
        sys.stdin = _capture.real_stdin()

    def give_back(self) -> None:
        if self.owner != threading.get_ident():
            return
        self.depth -= 1
        if self.depth == 0:
            self.owner = None
            sys.stdout.flush()
            sys.stdin = self.stdin
            _hold_display(False)
            _capture.resume_fd()
            _terminal_free.set()
        self.lock.release()

    def release_all(self) -> None:
        """A test ends with its debugger still holding the terminal (stepped off its end):
        the others go on."""
        while self.owner == threading.get_ident():
            self.give_back()


_handover = _Handover()


def test_ended() -> None:
    if _handover.owner == threading.get_ident():
        _handover.release_all()


def wait_for_terminal() -> None:
    """Before a test starts on a thread: not while a debugger has the terminal."""
    if not _terminal_free.is_set() and _handover.owner != threading.get_ident():
        _terminal_free.wait()


async def wait_for_terminal_async() -> None:
    """Before a test starts on the loop: the debugger is in a sync test on a thread (one in
    an async test blocks the loop, so nothing gets here meanwhile)."""
    while not _terminal_free.is_set() and _handover.owner != threading.get_ident():
        await asyncio.sleep(0.05)


def _rule(title: str) -> str:
    width = min(shutil.get_terminal_size((80, 24)).columns, 120)
    side = max(2, (width - len(title) - 2) // 2)
    return f"{'>' * side} {title} {'>' * max(2, width - side - len(title) - 2)}"


def _say(text: str) -> None:
    _capture.console_write(text, _capture.OUT)


class Debugger(pdb.Pdb):
    """pdb with the terminal handed over while it talks: taken when it stops, given back
    on `c`; `q` ends the run. A test's capture is off in the debugged context meanwhile, so
    what the user evaluates and what the test prints next shows on the terminal."""

    def __init__(self, method: str, header: str | None = None) -> None:
        # nosigint: Ctrl-C stays the run's (interrupt, then stop); pdb's own handler would
        # also fail outside the main thread.
        super().__init__(nosigint=True)
        self._method = method
        self._header = header
        self._holding = False
        self._capture: _capture.Captured | None = None

    def _take(self) -> None:
        if self._holding:
            return
        self._holding = True
        _handover.take()
        # The debugged code runs in this context: its prints go to the terminal now.
        self._capture = _capture.current.get()
        _capture.current.set(None)
        if self._header is not None:
            _say(f"\n{_rule(self._header)}\n")
            self._header = None
        elif self._method:
            _say(f"\n{_rule(f'PDB {self._method} (IO-capturing turned off)')}\n")
            self._method = ""

    def _give_back(self, announce: bool) -> None:
        if not self._holding:
            return
        self._holding = False
        if announce:
            _say(f"\n{_rule('PDB continue (IO-capturing resumed)')}\n")
        _capture.current.set(self._capture)
        self._capture = None
        _handover.give_back()

    def interaction(self, frame: FrameType | None, tb: Any) -> None:
        self._take()
        try:
            super().interaction(frame, tb)
        except BaseException:
            self._give_back(announce=False)
            raise
        if self.quitting:  # `q`, or the end of stdin
            self._give_back(announce=False)

    def do_continue(self, arg: str) -> bool | None:
        ret = super().do_continue(arg)
        self._give_back(announce=True)
        return ret

    do_c = do_cont = do_continue

    def do_quit(self, arg: str) -> bool | None:
        ret = super().do_quit(arg)
        self._give_back(announce=False)
        _end_run("Quitting debugger")
        return ret

    do_q = do_exit = do_quit

    def get_stack(self, f: FrameType | None, t: TracebackType | None) -> tuple[list[tuple[FrameType, int]], int]:
        stack, i = super().get_stack(f, t)
        if f is None:
            # Post-mortem: the last frame of the test's own code, not a helper that hides
            # itself (pytest's `__tracebackhide__`) or unittest's assert machinery.
            i = max(0, len(stack) - 1)
            while i and _hidden(stack[i][0]):
                i -= 1
        return stack, i


def _hidden(frame: FrameType) -> bool:
    return bool(frame.f_locals.get("__tracebackhide__") or frame.f_globals.get("__unittest"))


def _end_run(reason: str) -> None:
    """pytest's `Exit`: the run stops as on Ctrl-C (exit code 2), the rest is reported."""
    _say(f"\n{_rule(reason)}\n")
    if interrupt_run is not None:
        interrupt_run()
        return
    try:
        os.kill(os.getpid(), signal.SIGINT)
    except OSError:
        pass


# --- --pdb -------------------------------------------------------------------------------------


def wants_post_mortem(exc: BaseException) -> bool:
    return post_mortem_on_failure and not isinstance(exc, (bdb.BdbQuit, DebuggerNeedsTerminal))


def post_mortem(exc: BaseException, traceback_text: str | None, captured: tuple[str, str, str]) -> None:
    """`--pdb`: a failure's traceback, then a debugger in the frame that raised it."""
    tb: TracebackType | None = exc.__traceback__
    if tb is None:
        return
    debugger = Debugger("")
    debugger._take()
    _say("\n")
    for title, text in zip(("captured stdout", "captured stderr", "captured log"), captured, strict=True):
        if text:
            _say(f"{_rule(title)}\n{text.rstrip()}\n")
    _say(f"{_rule('traceback')}\n{(traceback_text or '').rstrip()}\n"
         f"{_rule('entering PDB')}\n\n{_rule('PDB post_mortem (IO-capturing turned off)')}\n")
    debugger.reset()
    try:
        debugger.interaction(None, tb)
    finally:
        debugger._give_back(announce=False)


# --- --trace -----------------------------------------------------------------------------------


def traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--trace`: `fn` run under a debugger that stops at the first line of the test."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def trace_coroutine(**kwargs: Any) -> Any:
            debugger = Debugger("runcall")
            debugger.reset()
            sys.settrace(debugger.trace_dispatch)
            try:
                return await fn(**kwargs)
            finally:
                sys.settrace(None)
                debugger._give_back(announce=False)

        return trace_coroutine

    @functools.wraps(fn)
    def trace_function(**kwargs: Any) -> Any:
        debugger = Debugger("runcall")
        try:
            return debugger.runcall(functools.partial(fn, **kwargs))
        finally:
            debugger._give_back(announce=False)

    return trace_function
