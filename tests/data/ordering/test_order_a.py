import os
import tempfile
from pathlib import Path


def _log(name):
    out = Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir())
    with open(out / "order.log", "a") as f:
        f.write(name + "\n")


def test_a1():
    _log("a1")


def test_a2():
    _log("a2")


def test_a3():
    _log("a3")


def test_a4():
    _log("a4")
