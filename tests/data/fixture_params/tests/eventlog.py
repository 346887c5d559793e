"""Appends what happened (a fixture set up or torn down, a test run) to one log per file, so
that a run's order and its number of set-ups can be compared with pytest's."""

import os
import tempfile


def record(file: str, text: str) -> None:
    folder = os.environ.get("SAMPLE_OUT") or tempfile.gettempdir()
    name = os.path.basename(file).replace(".py", ".log")
    with open(os.path.join(folder, name), "a", encoding="utf-8") as log:
        log.write(text + "\n")
