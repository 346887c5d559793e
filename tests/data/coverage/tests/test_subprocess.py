import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_report_program():
    out = subprocess.run(
        [sys.executable, "-m", "shapes.report", "square"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "four equal sides"
