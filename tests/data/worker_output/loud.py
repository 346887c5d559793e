"""Megabytes of non-ASCII output (characters outside the BMP among it) from several threads
of one test at once, each line written whole by one call."""

import contextvars
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

OUT = Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir())
# 2-, 3- and 4-byte UTF-8, the last two outside the BMP (12 bytes each, JSON-escaped).
PAYLOAD = "ä€😀𝄞\U0010ffff" * 40
THREADS = 4
LINES = 1000


def line(test: str, thread: int, n: int) -> str:
    return f"{test} t{thread} l{n} {PAYLOAD}\n"


def shout(test: str, until: Path | None = None) -> None:
    """LINES lines from each of THREADS threads; with `until`, each goes on without a pause
    until that file exists, then writes LINES more."""

    def speak(thread: int) -> None:
        n = 0
        deadline = time.monotonic() + 60
        while n < LINES or (until is not None and not until.exists()):
            sys.stdout.write(line(test, thread, n))
            n += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{until} never appeared")
        if until is not None:
            for n in range(n, n + LINES):
                sys.stdout.write(line(test, thread, n))

    # Each thread runs in a copy of the test's context: what it prints is the test's output.
    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(speak, t)) for t in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
