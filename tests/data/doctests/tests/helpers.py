"""Not a test module (python_files), but a doctest module.

>>> double(4)
8
"""


def double(x):
    return 2 * x


def test_not_collected():
    """A test-named function outside a test module is no test."""
    raise AssertionError("never collected")
