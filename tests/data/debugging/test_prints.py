"""With -s, what a test prints reaches the terminal while the test still runs: this one prints,
then waits for the file the person (or the end-to-end test) creates after seeing the print."""

import os
import time
from pathlib import Path


def test_prints_then_waits():
    print("STEP ONE is on the screen", flush=True)
    go = Path(os.environ.get("SAMPLE_OUT", ".")) / "go"
    deadline = time.monotonic() + 30
    while not go.exists():
        assert time.monotonic() < deadline, "the print never reached the terminal"
        time.sleep(0.02)
    print("STEP TWO after the go")
