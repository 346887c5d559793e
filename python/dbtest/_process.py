"""How a dbtest process ends, and how a process forked by a test starts."""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """Ends the process once the engine has run. The engine's threads may still hold Python
    state (a sync test abandoned after its timeout keeps running; a worker thread may be
    releasing its last reference), and interpreter finalisation with foreign threads attached
    can abort. So: run the atexit handlers (coverage and friends save their data there), flush,
    and leave without finalising."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def engine_owns_ctrl_c() -> None:
    """Before a run the engine drives without Python's event loop: the engine watches Ctrl-C
    itself (dbtest_runner::watch_ctrl_c), so Python must not also turn it into a
    KeyboardInterrupt inside the engine's calls back into Python. Call it before the run
    starts, so that the engine's handler is installed over this one."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _main_thread_after_fork() -> None:
    """dbtest runs tests on threads that Rust started, which Python sees as "dummy" threads.
    In a child forked from one, that thread becomes the main thread, but without the thread
    state lock that Python 3.11's exit (threading._shutdown) asserts: the child would exit 1
    once its work is done. It gets the lock a main thread holds."""
    import threading

    current = threading.current_thread()
    if isinstance(current, threading._DummyThread) and getattr(current, "_tstate_lock", 1) is None:
        import _thread

        lock = _thread.allocate_lock()
        lock.acquire()
        current._tstate_lock = lock  # type: ignore[attr-defined]


os.register_at_fork(after_in_child=_main_thread_after_fork)
