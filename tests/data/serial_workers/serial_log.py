"""What the serial tests of this sample record: when each held the resource, and where."""

import os
import tempfile
import time
from pathlib import Path

OUT = Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir())
LOG = OUT / "serial.log"


def record(name: str, what: str) -> None:
    # One short append per line: whole lines, whichever process writes.
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(f"{name} {what} {time.monotonic_ns()} {os.getpid()}\n")


def wait_for(path: Path, why: str) -> None:
    for _ in range(3000):
        if path.exists():
            return
        time.sleep(0.01)
    raise AssertionError(f"{path.name} never appeared: {why}")
