import os
import tempfile
import time
from pathlib import Path

OUT = Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir())

# This import waits (up to 20 s) until the stuck file's import has begun, so that the two
# imports overlap whichever of them starts first.
for _ in range(2000):
    if (OUT / "import.started").exists():
        break
    time.sleep(0.01)


def test_quick():
    (OUT / "quick.done").write_text("done\n")
