import os
import tempfile
from pathlib import Path


def _touch(name):
    out = Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir())
    (out / name).write_text("ran\n")


def test_1_passes():
    _touch("t1.ran")


def test_2_fails():
    _touch("t2.ran")
    assert False, "first failure"


def test_3_fails():
    _touch("t3.ran")
    assert False, "second failure"


def test_4_fails():
    _touch("t4.ran")
    assert False, "third failure"


def test_5_passes():
    _touch("t5.ran")
