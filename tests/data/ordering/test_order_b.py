import os
import tempfile
from pathlib import Path


def _log(name):
    out = Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir())
    with open(out / "order.log", "a") as f:
        f.write(name + "\n")


def test_b1():
    _log("b1")


def test_b2():
    _log("b2")


def test_b3():
    _log("b3")


def test_b4():
    _log("b4")
