"""Per-test capture of what a test prints and logs, that stays right when tests overlap.

Each running test sets a context variable; a proxy installed as sys.stdout / sys.stderr sends
a write to the buffer of the test whose context it happens in, and a handler on the root
logger does the same with log records. asyncio tasks copy the context of the task that
created them; threads do not, so a thread started (or an executor job submitted) while a
test's capture is current is given that capture: what it prints belongs to the test.

A test that runs with nothing beside it (a file that runs alone, a test that uses a
process-wide fixture) also has file descriptors 1 and 2 pointed at temporary files, as
pytest's `--capture=fd` does, so that what subprocesses and C code write is its output too.

Output written for a test that has ended (a thread it started that outlives it) is never
dropped: it goes to the one test running by then, if a single one is (what pytest's global
capture does), else to the console, each line marked with the test it came from.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import io
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TextIO

OUT, ERR, LOG = 0, 1, 2


class Captured:
    """What one test (or one teardown) wrote: stdout, stderr and log text, in order."""

    __slots__ = ("_late", "_origin", "done", "err", "fd", "log", "out")

    def __init__(self, origin: str | Callable[[], str] | None = None) -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        self.log: list[str] = []
        # Who wrote it, for output that arrives after the end: a test id, a file, <session>
        # (a test's id is made only then: most tests never write late).
        self._origin = origin
        self.done = False
        # Set while fds 1 and 2 go to temporary files for this test: its writes go there
        # too, so that print() and a subprocess's output keep their order.
        self.fd: _FdCapture | None = None
        # Late output's partial lines (stdout, stderr), while they wait for their end of line.
        self._late: list[str] | None = None

    def write(self, s: str, kind: int) -> None:
        if self.done:
            _late_write(self, s, kind)
            return
        if mode != "fd" and mode != "sys" and kind != LOG:
            # `-s` shows a test's output as it is written; tee-sys also keeps it.
            console_write(s, kind)
            if mode == "no":
                return
        fd = self.fd
        if fd is not None and kind != LOG:
            fd.write(s, kind)
        else:
            (self.out, self.err, self.log)[kind].append(s)
        if tee is not None:
            tee(s)

    @property
    def origin(self) -> str | None:
        origin = self._origin
        return origin() if callable(origin) else origin

    def texts(self) -> tuple[str, str, str]:
        """stdout, stderr and log so far (also while fd capture is on: a test past its timeout)."""
        fd = self.fd
        if fd is not None and fd.owner is self:
            out, err = fd.peek()
            return out + "".join(self.out), err + "".join(self.err), "".join(self.log)
        return "".join(self.out), "".join(self.err), "".join(self.log)

    def finish(self) -> tuple[str, str, str]:
        """Ends the capture (again: no harm): what it holds; anything written from now on is
        late."""
        if not self.done:
            end_fd(self)
            self.done = True
            with _lock:
                _running.discard(self)
        return "".join(self.out), "".join(self.err), "".join(self.log)


current: ContextVar[Captured | None] = ContextVar("dbtest_capture", default=None)

# pytest's `--capture`: "fd" (fds 1 and 2 too, for tests that run alone), "sys", "no" (`-s`),
# "tee-sys"; set before `install`.
mode = "fd"

# In a worker process captured output is also sent to the parent as it happens, so that a
# test that kills its process still has what it printed reported.
tee: Callable[[str], None] | None = None

_lock = threading.Lock()
# The captures of the tests running now, for output that arrives late.
_running: set[Captured] = set()
# Late captures with a partial line not yet shown.
_pending: set[Captured] = set()


def start(origin: str | Callable[[], str] | None, is_test: bool = True) -> tuple[Captured, Any]:
    """A new capture, current in this context from now on: `(capture, token)`. Late output
    may go to a test's capture, never to a teardown's (reported only if the teardown fails)."""
    cap = Captured(origin)
    if is_test:
        with _lock:
            if not _log_attached:
                _log_attach()
            _running.add(cap)
    return cap, current.set(cap)


def idle() -> None:
    """Before work that is no test's (an import, a teardown): if no test runs, the console
    has fds 1 and 2 back and the root logger loses dbtest's handler (a `logging.basicConfig()`
    at import time configures logging, as under pytest)."""
    release_fd()
    if _log_attached:
        with _lock:
            if not _running:
                _log_detach()


def _late_write(cap: Captured, s: str, kind: int) -> None:
    with _lock:
        alone = next(iter(_running)) if len(_running) == 1 else None
    if alone is not None:
        alone.write(s, kind)
        return
    # On the console, a line at a time, each marked with where it came from.
    index = ERR if kind == LOG else kind
    if cap._late is None:
        cap._late = ["", ""]
    text = cap._late[index] + s
    lines = text.split("\n")
    cap._late[index] = lines.pop()
    if cap._late[index]:
        _pending.add(cap)
    if lines:
        marked = "".join(f"[output of {cap.origin} after it ended] {line}\n" for line in lines)
        console_write(marked, index)


def flush_late() -> None:
    """Shows what late output is left without its end of line."""
    for cap in list(_pending):
        late = cap._late or ["", ""]
        for index in (OUT, ERR):
            rest, late[index] = late[index], ""
            if rest:
                console_write(f"[output of {cap.origin} after it ended] {rest}\n", index)
    _pending.clear()


# --- the console ---------------------------------------------------------------------------

_installed: tuple[TextIO, TextIO] | None = None
# What sys.stdin, sys.stdout and sys.stderr are while capture is installed (see `reinstate`),
# and the real sys.stdin.
_streams: tuple[Any, Any, Any] | None = None
_real_stdin: Any = None
# Duplicates of fds 1 and 2 taken at install: where the console is while fd capture points
# the descriptors elsewhere.
_console_fds: tuple[int, int] | None = None


def console_write(s: str, kind: int) -> None:
    """Straight to the console, past any capture."""
    if _console_fds is not None and _redirected():
        os.write(_console_fds[kind], s.encode("utf-8", "replace"))
        return
    real = _installed[kind] if _installed is not None else (sys.stdout, sys.stderr)[kind]
    real.write(s)
    real.flush()


class _Proxy(io.TextIOBase):
    def __init__(self, real: TextIO, is_err: bool) -> None:
        self._real = real
        self._is_err = is_err

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            # As a real text stream: libraries probe `write(b"")` to tell text from binary.
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        cap = current.get()
        if cap is None:
            if _redirected():
                # Not a test's: the descriptors are the capture's now, the console is elsewhere.
                console_write(s, ERR if self._is_err else OUT)
                return len(s)
            return self._real.write(s)
        cap.write(s, ERR if self._is_err else OUT)
        return len(s)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if current.get() is None:
            self._real.flush()

    def isatty(self) -> bool:
        return (current.get() is None or mode == "no") and self._real.isatty()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._real, "encoding", "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _NoInput:
    """sys.stdin while output is captured, as pytest's `DontReadFromInput`: a test that reads
    from it gets an OSError instead of waiting for a console nobody types at."""

    _MESSAGE = "dbtest: reading from stdin while output is captured"

    def __init__(self, real: Any) -> None:
        self._real = real

    @property
    def encoding(self) -> str:
        return getattr(self._real, "encoding", None) or "utf-8"

    @property
    def closed(self) -> bool:
        return False

    @property
    def buffer(self) -> _NoInput:
        return self

    def read(self, size: int | None = -1) -> str:
        raise OSError(self._MESSAGE)

    readline = read

    def readlines(self, hint: int = -1) -> list[str]:
        raise OSError(self._MESSAGE)

    def __next__(self) -> str:
        return self.readline()

    def __iter__(self) -> _NoInput:
        return self

    def fileno(self) -> int:
        raise io.UnsupportedOperation("redirected stdin is pseudofile, has no fileno()")

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        pass


# --- file descriptors 1 and 2 --------------------------------------------------------------

_libc: Any = None


def flush_c_streams() -> None:
    """Flushes what C's stdio holds, so that it reaches the descriptors before they switch."""
    global _libc
    if _libc is False:
        return
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None)
        _libc.fflush(None)
    except Exception:  # noqa: BLE001 - no C library to flush (Windows): nothing to do
        _libc = False


def _flush_python_streams() -> None:
    """Flushes the real streams (writes through `sys.stdout.buffer`, `sys.__stdout__`)."""
    real = _installed or ()
    for stream in (*real, *(s for s in (sys.__stdout__, sys.__stderr__) if s not in real)):
        if stream is not None:
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a closed stream has nothing to flush
                pass


class _FdCapture:
    """Two temporary files, made once and reused, that fds 1 and 2 point at while tests run
    alone. The descriptors stay pointed at them from one such test to the next (switching
    costs more than a trivial test takes), and go back to the console before anything else
    runs: a test that may overlap, an import, a teardown."""

    def __init__(self) -> None:
        self.files = (tempfile.TemporaryFile(buffering=0), tempfile.TemporaryFile(buffering=0))  # noqa: SIM115
        self.fds = (self.files[OUT].fileno(), self.files[ERR].fileno())
        self.owner: Captured | None = None
        self.redirected = False
        self._guard = threading.Lock()

    def write(self, s: str, kind: int) -> None:
        os.write(self.fds[kind], s.encode("utf-8", "surrogateescape"))

    def peek(self) -> tuple[str, str]:
        return self._read(OUT, take=False), self._read(ERR, take=False)

    def _read(self, kind: int, take: bool) -> str:
        fd = self.fds[kind]
        # The descriptors share one offset with fd 1 / fd 2: it is what was written.
        size = os.lseek(fd, 0, os.SEEK_CUR)
        if size == 0:
            return ""
        data = os.pread(fd, size, 0)
        if take:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        return data.decode("utf-8", "replace")

    def _to_console(self) -> None:
        """What reached the descriptors while no test owned them is the console's."""
        assert _console_fds is not None
        for kind in (OUT, ERR):
            text = self._read(kind, take=True)
            if text:
                os.write(_console_fds[kind], text.encode("utf-8", "replace"))

    def begin(self, cap: Captured) -> None:
        with self._guard:
            if self.owner is not None:
                # A test abandoned past its timeout never ended its capture: this test takes over.
                self._end(self.owner)
            if not self.redirected:
                _flush_python_streams()
                flush_c_streams()
                os.dup2(self.fds[OUT], 1)
                os.dup2(self.fds[ERR], 2)
                self.redirected = True
            # Else the test before ended with a flush, and the runner between the two
            # writes through its own descriptors: the files hold nothing.
            self.owner = cap
            cap.fd = self

    def end(self, cap: Captured) -> None:
        with self._guard:
            if self.owner is cap:
                self._end(cap)

    def _end(self, cap: Captured) -> None:
        _flush_python_streams()
        flush_c_streams()
        self.owner = None
        cap.fd = None
        # Before anything written after this point: the lists are empty until now.
        cap.out.insert(0, self._read(OUT, take=True))
        cap.err.insert(0, self._read(ERR, take=True))

    def release(self) -> None:
        """The descriptors back to the console (unless a test owns them)."""
        with self._guard:
            if self.owner is None and self.redirected:
                assert _console_fds is not None
                _flush_python_streams()
                flush_c_streams()
                os.dup2(_console_fds[OUT], 1)
                os.dup2(_console_fds[ERR], 2)
                self.redirected = False
                self._to_console()


_fd_capture: _FdCapture | None = None


def begin_fd(cap: Captured) -> None:
    """Points fds 1 and 2 at this test's files until `end_fd` (only for a test that runs with
    nothing beside it: the descriptors are the whole process's)."""
    global _fd_capture
    if _console_fds is None or mode != "fd":
        return
    if _fd_capture is None:
        try:
            _fd_capture = _FdCapture()
        except OSError:
            return  # no temporary files here: Python-level capture only
    _fd_capture.begin(cap)


def end_fd(cap: Captured) -> None:
    fd = cap.fd
    if fd is not None:
        fd.end(cap)


def release_fd() -> None:
    """Gives fds 1 and 2 back to the console: before work that is no test's that runs alone."""
    fd = _fd_capture
    if fd is not None and fd.redirected:
        fd.release()


def _redirected() -> bool:
    fd = _fd_capture
    return fd is not None and fd.redirected


# --- threads -------------------------------------------------------------------------------

_thread_start = threading.Thread.start
# Where a new thread starts running Python (CPython 3.11-3.14); without it, threads are
# left as they are.
_thread_bootstrap = getattr(threading.Thread, "_bootstrap_inner", None)
_executor_submit = concurrent.futures.ThreadPoolExecutor.submit


def _start(self: threading.Thread) -> None:
    cap = current.get()
    if cap is not None:
        self._dbtest_capture = cap  # type: ignore[attr-defined]
    _thread_start(self)


def _bootstrap_inner(self: threading.Thread) -> None:
    cap = self.__dict__.get("_dbtest_capture")
    if cap is not None:
        current.set(cap)
    _thread_bootstrap(self)  # type: ignore[misc]  # patched in only when it exists


def _run_captured(cap: Captured | None, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    token = current.set(cap)
    try:
        return fn(*args, **kwargs)
    finally:
        current.reset(token)


def _submit(self: concurrent.futures.ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any,
            **kwargs: Any) -> Any:
    # The pool's threads outlive the test that started them: each job carries the capture
    # of where it was submitted (none outside tests).
    return _executor_submit(self, functools.partial(_run_captured, current.get(), fn), *args, **kwargs)


def _patch_threads(on: bool) -> None:
    if _thread_bootstrap is None:
        return
    threading.Thread.start = _start if on else _thread_start  # type: ignore[method-assign]
    threading.Thread._bootstrap_inner = _bootstrap_inner if on else _thread_bootstrap  # type: ignore[attr-defined]
    submit = _submit if on else _executor_submit
    concurrent.futures.ThreadPoolExecutor.submit = submit  # type: ignore[method-assign, assignment]


def suspend_fd() -> None:
    """Fds 1 and 2 are the console's until `resume_fd` (a debugger talks on the terminal)."""
    fd = _fd_capture
    if fd is None or not fd.redirected or _console_fds is None:
        return
    with fd._guard:
        _flush_python_streams()
        flush_c_streams()
        os.dup2(_console_fds[OUT], 1)
        os.dup2(_console_fds[ERR], 2)


def resume_fd() -> None:
    fd = _fd_capture
    if fd is None or not fd.redirected:
        return
    with fd._guard:
        _flush_python_streams()
        flush_c_streams()
        os.dup2(fd.fds[OUT], 1)
        os.dup2(fd.fds[ERR], 2)


def real_stdin() -> Any:
    """The process's stdin, also while capture has put `_NoInput` in its place."""
    return _real_stdin if _installed is not None else sys.stdin


@contextlib.contextmanager
def fd_suspended() -> Iterator[None]:
    """Inside the block fds 1 and 2 are the console's again (capsys.disabled())."""
    suspend_fd()
    try:
        yield
    finally:
        resume_fd()


# --- log records ---------------------------------------------------------------------------

DEFAULT_LOG_FORMAT = "%(levelname)-8s %(name)s:%(filename)s:%(lineno)d %(message)s"
DEFAULT_LOG_DATE_FORMAT = "%H:%M:%S"


class DatetimeFormatter(logging.Formatter):
    """pytest's: `%f` (microseconds) works in the date format."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt and "%f" in datefmt:
            from datetime import datetime, timedelta, timezone

            ct = self.converter(record.created)
            tz = timezone(timedelta(seconds=ct.tm_gmtoff), ct.tm_zone)
            dt = datetime(*ct[0:6], microsecond=int(record.msecs * 1000), tzinfo=tz)
            return dt.strftime(datefmt)
        return super().formatTime(record, datefmt)


class _LogHandler(logging.Handler):
    """On the root logger for the run, as pytest's report handler: a record goes to the log
    of the test whose context it is logged in."""

    def emit(self, record: logging.LogRecord) -> None:
        cap = current.get()
        if cap is None:
            self._unclaimed(record)
            return
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - a bad log call is the logging module's to report
            self.handleError(record)
            return
        cap.write(text + "\n", LOG)

    def _unclaimed(self, record: logging.LogRecord) -> None:
        """Outside any test: what Python would have done had this handler not been there
        (the last-resort handler prints warnings when no other handler takes the record)."""
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(h is not self for h in logger.handlers):
                return
            logger = logger.parent if logger.propagate else None
        last = logging.lastResort
        if last is not None and record.levelno >= last.level:
            last.handle(record)


_log_handler: _LogHandler | None = None
_log_attached = False
_log_level: int | None = None
# The root logger's level while the handler is attached and `log_level` lowered it.
_root_level: int | None = None


def _level(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip().upper()
    found = logging.getLevelName(text)
    if isinstance(found, int):
        return found
    try:
        return int(text)
    except ValueError:
        return None


def _install_log(level: Any, fmt: str | None, datefmt: str | None) -> None:
    global _log_handler, _log_level
    handler = _LogHandler()
    handler.setFormatter(DatetimeFormatter(fmt or DEFAULT_LOG_FORMAT, datefmt or DEFAULT_LOG_DATE_FORMAT))
    _log_level = _level(level)
    if _log_level is not None:
        handler.setLevel(_log_level)
    _log_handler = handler


def _log_attach() -> None:
    """On the root logger while tests run, as pytest's handler (until `idle`)."""
    global _root_level, _log_attached
    handler = _log_handler
    if handler is None:
        return
    _log_attached = True
    root = logging.getLogger()
    root.addHandler(handler)
    if _log_level is not None and root.level > _log_level:
        # pytest's `log_level`: the least level captured, also below the root logger's.
        _root_level = root.level
        root.setLevel(_log_level)


def _log_detach() -> None:
    global _root_level, _log_attached
    handler = _log_handler
    if handler is None or not _log_attached:
        return
    _log_attached = False
    root = logging.getLogger()
    root.removeHandler(handler)
    if _root_level is not None:
        root.setLevel(_root_level)
        _root_level = None


def _uninstall_log() -> None:
    global _log_handler
    _log_detach()
    _log_handler = None


# --- install -------------------------------------------------------------------------------


def install(log_level: Any = None, log_format: str | None = None, log_date_format: str | None = None) -> None:
    global _installed, _console_fds
    if _installed is not None:
        return
    _installed = (sys.stdout, sys.stderr)
    try:
        _console_fds = (os.dup(1), os.dup(2))
    except OSError:
        _console_fds = None  # no descriptors 1 and 2 to redirect: Python-level capture only
    global _streams, _real_stdin
    _real_stdin = sys.stdin
    # `-s`: a test may read what the user types, as under pytest.
    stdin = sys.stdin if mode == "no" else _NoInput(sys.stdin)
    sys.stdin, sys.stdout, sys.stderr = _streams = (
        stdin, _Proxy(sys.stdout, False), _Proxy(sys.stderr, True))
    _patch_threads(True)
    _install_log(log_level, log_format, log_date_format)


def uninstall() -> None:
    global _installed, _console_fds
    if _installed is None:
        return
    flush_late()
    fd = _fd_capture
    if fd is not None:
        if fd.owner is not None:
            fd.end(fd.owner)
        fd.release()
    _uninstall_log()
    _patch_threads(False)
    sys.stdout, sys.stderr = _installed
    _installed = None
    _restore_stdin()
    if _console_fds is not None:
        for saved in _console_fds:
            os.close(saved)
        _console_fds = None


def _after_fork_in_child() -> None:
    """A child forked by a test (multiprocessing) writes to the real streams, as it would
    under pytest: what it prints must not vanish into a copy of the parent's buffers. Its
    descriptors stay as they are (under fd capture, the test's files: its output)."""
    global _installed, _console_fds, _fd_capture, _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    _fd_capture = None
    _console_fds = None
    _running.clear()
    _pending.clear()
    if _installed is not None:
        _uninstall_log()
        _patch_threads(False)
        sys.stdout, sys.stderr = _installed
        _installed = None
        _restore_stdin()


def _restore_stdin() -> None:
    global _streams
    if _streams is not None:
        if sys.stdin is _streams[0]:
            sys.stdin = _real_stdin
        _streams = None


def reinstate() -> None:
    """Before a test that runs alone: sys.stdin, sys.stdout and sys.stderr are the capture's
    again, as pytest's global capture puts its own back before every test. A stream the test
    before left behind (a monkeypatch undone after capsys closed the file it had patched over)
    would fail this test's writes."""
    streams = _streams
    if streams is not None and (sys.stdout is not streams[1] or sys.stderr is not streams[2]
                                or sys.stdin is not streams[0]):
        sys.stdin, sys.stdout, sys.stderr = streams


os.register_at_fork(after_in_child=_after_fork_in_child)
