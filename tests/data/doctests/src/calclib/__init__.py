"""A small calculator, documented with examples.

>>> from calclib.calc import add
>>> add(1, 2)
3
"""
