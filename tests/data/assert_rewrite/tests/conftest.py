import pytest

# Asserts in this helper module explain themselves as the tests' own do.
pytest.register_assert_rewrite("checks")


class Money:
    def __init__(self, cents):
        self.cents = cents

    def __eq__(self, other):
        return isinstance(other, Money) and other.cents == self.cents

    __hash__ = None


def pytest_assertrepr_compare(op, left, right):
    if isinstance(left, Money) and isinstance(right, Money) and op == "==":
        return ["two amounts of money:", f"   cents: {left.cents} != {right.cents}"]
    return None
