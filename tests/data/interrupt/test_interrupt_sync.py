import os
import tempfile
import time
from pathlib import Path


def test_quick_sync():
    pass


def test_slow_sync():
    # A sync test sleeps on a thread, which cannot be interrupted: Ctrl-C must not wait for it.
    (Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir()) / "slow_sync.started").write_text("started\n")
    time.sleep(30)
