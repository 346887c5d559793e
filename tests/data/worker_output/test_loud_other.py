import dbtest  # noqa: F401

from loud import shout


def test_loud_c():
    shout("c")
