"""Where the sample tests leave evidence for the end-to-end suite: $SAMPLE_OUT, else the temp folder."""

import os
import tempfile
from pathlib import Path


def log(name: str, line: str) -> None:
    out = Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir())
    with open(out / name, "a", encoding="utf-8") as f:
        f.write(line + "\n")
