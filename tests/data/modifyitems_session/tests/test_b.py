import os


def test_once_b():
    raise AssertionError("deselected: test_a.py's test_once_a came first")


def test_b():
    os.environ["RAN_B"] = "1"
