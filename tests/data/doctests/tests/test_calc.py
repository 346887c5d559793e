"""A test module is also read for doctests.

>>> from calclib.calc import add
>>> add(0, 0)
0
"""

from calclib.calc import add


def test_add():
    assert add(1, 1) == 2
