"""A worker process of `dbtest unit --workers N`, started and driven by the parent's Rust
runner: `python -m dbtest._worker`. It runs the files it is sent with the in-process engine
and reports each test over its original stdout; see crates/dbtest-py/src/worker.rs."""

from __future__ import annotations

import asyncio
import os
import signal


def main() -> None:
    # The parent reads protocol messages from the pipe that is fd 1 now. Keep a private copy
    # of it, and send whatever else writes to fd 1 (C code, subprocesses) to stderr, where
    # the parent keeps it for crash reports.
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    # Ctrl-C reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from . import _core
    from ._settings import PythonSettings

    run = _core.WorkerRun(os.environ["DBTEST_WORKER_SETUP"], protocol_fd)
    settings = PythonSettings.from_engine(run.python_settings)
    coverage = None
    if settings.coverage is not None:
        # Before the driver's imports, so that a package they import is measured from its
        # first line.
        from ._coverage import CoverageSession

        coverage = CoverageSession(settings.coverage, "worker")
        coverage.start()

    from . import _capture
    from ._driver import Driver

    # A test that kills its worker takes its captured output with it: mirror it to the
    # parent as it is printed. The engine writes every message itself, whole (a write of
    # our own could land inside one of its messages, or in another thread's), and in order
    # with the tests' start and end.
    _capture.tee = run.output

    async def serve() -> int:
        driver = Driver(asyncio.get_running_loop(), run.root, settings)
        try:
            return await run.serve(driver)
        finally:
            driver.close()

    code = asyncio.run(serve())
    if coverage is not None:
        coverage.save()  # before exit_now, which runs no atexit handlers
    from ._process import exit_now

    exit_now(code)


if __name__ == "__main__":
    main()
