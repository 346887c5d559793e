"""Arithmetic with examples that run as doctests."""


def add(a, b):
    """Adds.

    >>> add(2, 3)
    5
    """
    return a + b


def spaced():
    """Needs NORMALIZE_WHITESPACE from doctest_optionflags.

    >>> spaced()
    [1,   2,
     3]
    """
    return [1, 2, 3]


def elided():
    """Needs ELLIPSIS.

    >>> elided()
    'start ... end'
    """
    return "start middle end"


def wrong():
    """A doctest that fails.

    >>> wrong()
    42
    """
    return 41


def raises():
    """An unexpected exception fails the doctest.

    >>> raises()
    'never'
    """
    raise ValueError("boom")


def skipped():
    """Every example skipped: the doctest is skipped.

    >>> skipped()  # doctest: +SKIP
    'whatever'
    """


def no_examples():
    """A docstring without examples is no doctest."""


class Stack:
    """A stack.

    >>> s = Stack()
    >>> s.push(1)
    >>> s.items
    [1]
    """

    def __init__(self):
        self.items = []

    def push(self, item):
        """Pushes.

        >>> Stack().push(2) is None
        True
        """
        self.items.append(item)
