"""A conftest's docstring examples run too, under --doctest-modules.

>>> 2 * 3
6
"""

import pytest


@pytest.fixture(autouse=True)
def _tidy():
    # pytest runs it around doctests too; dbtest says it does not.
    yield
