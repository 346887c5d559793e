"""A conftest's docstring examples run too, under --doctest-modules.

>>> 2 * 3
6
"""
