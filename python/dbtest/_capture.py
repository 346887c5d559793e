"""Per-test capture of sys.stdout / sys.stderr that stays right when tests overlap.

Each running test sets a context variable; a proxy installed as sys.stdout / sys.stderr sends
a write to the buffer of the test whose context it happens in. asyncio tasks copy the context
of the task that created them, and threads have their own, so overlapping tests never mix.
"""

from __future__ import annotations

import io
import os
import sys
from contextvars import ContextVar
from typing import Any, Callable, TextIO


class Captured:
    __slots__ = ("out", "err")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.err: list[str] = []


current: ContextVar[Captured | None] = ContextVar("dbtest_capture", default=None)

# In a worker process captured output is also sent to the parent as it happens, so that a
# test that kills its process still has what it printed reported.
tee: Callable[[str], None] | None = None


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
            return self._real.write(s)
        (cap.err if self._is_err else cap.out).append(s)
        if tee is not None:
            tee(s)
        return len(s)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if current.get() is None:
            self._real.flush()

    def isatty(self) -> bool:
        return current.get() is None and self._real.isatty()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._real, "encoding", "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


_installed: tuple[TextIO, TextIO] | None = None


def install() -> None:
    global _installed
    if _installed is None:
        _installed = (sys.stdout, sys.stderr)
        sys.stdout = _Proxy(sys.stdout, False)  # type: ignore[assignment]
        sys.stderr = _Proxy(sys.stderr, True)  # type: ignore[assignment]


def uninstall() -> None:
    global _installed
    if _installed is not None:
        sys.stdout, sys.stderr = _installed
        _installed = None


# A child forked by a test (multiprocessing) writes to the real streams, as it would under
# pytest: what it prints must not vanish into a copy of the parent's buffers.
os.register_at_fork(after_in_child=uninstall)
