# Importing this file does not finish while the run lasts: it waits at module level.
import os
import tempfile
import time
from pathlib import Path

(Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir()) / "import.started").write_text("started\n")
time.sleep(60)


def test_never_collected():
    pass
