"""The other side of test_hold_a.py: the first test ends once the person has seen the debugger's
prompt (they create `prompt_seen`), leaving `first_done`; the second must not start until they
typed `c` (they create `typed_c` just before), however long after the first ended."""

import os
import time
from pathlib import Path

import dbtest  # noqa: F401 - a dbtest-native file: it overlaps with test_hold_a.py

OUT = Path(os.environ.get("SAMPLE_OUT", "."))


def test_ends_while_the_debugger_is_open():
    deadline = time.monotonic() + 30
    while not (OUT / "prompt_seen").exists():
        assert time.monotonic() < deadline, "the debugger's prompt was never seen"
        time.sleep(0.02)
    (OUT / "first_done").touch()


def test_starts_only_after_the_debugger_continues():
    assert (OUT / "typed_c").exists(), "started while another test's debugger had the terminal"
