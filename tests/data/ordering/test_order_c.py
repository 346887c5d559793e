import os
import tempfile
from pathlib import Path


def _log(name):
    out = Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir())
    with open(out / "order.log", "a") as f:
        f.write(name + "\n")


def test_c1():
    _log("c1")


def test_c2():
    _log("c2")


def test_c3():
    _log("c3")


def test_c4():
    _log("c4")
