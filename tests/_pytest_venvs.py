"""Python interpreters with another pytest installed, for the tests that compare dbtest with
each pytest it supports (DESIGN section 4b: any installed pytest from 7.4 to 9.x).

Each one is a venv made once with pip from PyPI (pinned versions, so a run never changes by
itself) and kept in a cache folder: `$DBTEST_TEST_VENVS`, or ~/.cache/dbtest/test-venvs. Delete
the folder to make them again. dbtest itself is not installed there: a `.pth` file points at
a folder that holds only a link to the `dbtest` package this suite tests, so the venv's own
pytest is the only one it sees.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import dbtest

# The pytest of each supported series, with the plugins the sample projects use, pinned to
# releases that support it; dbtest's own dependencies come last.
PINS: dict[str, list[str]] = {
    "7.4": ["pytest==7.4.4", "pytest-asyncio==0.23.8", "pytest-benchmark==4.0.0"],
    "8.3": ["pytest==8.3.5", "pytest-asyncio==0.26.0", "pytest-benchmark==4.0.0"],
}
DBTEST_DEPS = ["click>=8.1", "pyyaml>=6", "jinja2>=3.1"]
PIP_TIMEOUT_S = 600.0
# The pytest of this environment, then each other supported series: what the comparing
# tests are parametrized over.
PYTESTS = ["installed", *PINS]


def cache_root() -> Path:
    configured = os.environ.get("DBTEST_TEST_VENVS")
    return Path(configured) if configured else Path.home() / ".cache" / "dbtest" / "test-venvs"


def python_for(which: str) -> str:
    """The interpreter for one of PYTESTS."""
    return sys.executable if which == "installed" else python_with_pytest(which)


def python_with_pytest(series: str) -> str:
    """The interpreter of a venv with pytest `series` (made on first use, then reused)."""
    pins = PINS[series]
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"pytest-{series}-py{sys.version_info.major}{sys.version_info.minor}"
    python = venv / "bin" / "python"
    ready = venv / "dbtest-ready.txt"
    wanted = "\n".join(pins + DBTEST_DEPS)
    with open(root / f"{venv.name}.lock", "w") as lock:
        # pytest-xdist workers or two runs at once make it once.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (ready.exists() and ready.read_text() == wanted):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins,
                            *DBTEST_DEPS], check=True, timeout=PIP_TIMEOUT_S)
            ready.write_text(wanted)
    _point_at_dbtest(venv)
    return str(python)


def _point_at_dbtest(venv: Path) -> None:
    """Makes the venv import the dbtest under test (this checkout's, or the installed one)."""
    package = Path(dbtest.__file__).resolve().parent
    holder = venv / "dbtest-under-test"
    holder.mkdir(exist_ok=True)
    link = holder / "dbtest"
    if link.is_symlink() and link.resolve() != package:
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(package, target_is_directory=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "dbtest_under_test.pth").write_text(f"{holder}\n")
