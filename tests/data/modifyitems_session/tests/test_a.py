import os


def test_once_a():
    pass


def test_calls():
    # One call, with the items of both files.
    assert os.environ["MODIFYITEMS_CALLS"] == "5;"


def test_after_b():
    assert os.environ.get("RAN_B") == "1"
