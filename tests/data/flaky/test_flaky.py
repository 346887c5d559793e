import os
import tempfile
from pathlib import Path


def _attempt(name):
    """How many times this test has started, counted in a file (1 on the first attempt)."""
    path = Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir()) / f"{name}.count"
    n = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(n))
    return n


def test_fails_once():
    assert _attempt("fails_once") >= 2, "fails on the first attempt only"


async def test_fails_once_async():
    assert _attempt("fails_once_async") >= 2, "fails on the first attempt only"


def test_always_fails():
    _attempt("always_fails")
    assert False, "always"


def test_stable():
    _attempt("stable")
