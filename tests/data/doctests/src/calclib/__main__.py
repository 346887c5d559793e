"""pytest reads no doctest of a __main__.py.

>>> 1 + 1
3
"""
