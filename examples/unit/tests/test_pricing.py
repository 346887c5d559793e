"""Pure pricing rules: plain sync tests, no database, no fixtures."""

import dbtest
from shop import apply_discount, format_cents, is_valid_email


@dbtest.parametrize(
    "subtotal,percent,expected",
    [(1000, 0, 1000), (1000, 10, 900), (999, 10, 899), (995, 10, 896), (1, 50, 1), (1999, 100, 0)],
    ids=["no-discount", "ten-percent", "rounds-down", "rounds-half-up", "half-a-cent", "free"],
)
def test_apply_discount(subtotal, percent, expected):
    assert apply_discount(subtotal, percent) == expected


@dbtest.parametrize("percent", [-1, 101])
def test_discount_out_of_range_is_rejected(percent):
    try:
        apply_discount(1000, percent)
    except ValueError as e:
        assert "between 0 and 100" in str(e)
    else:
        raise AssertionError(f"apply_discount accepted {percent}%")


@dbtest.parametrize(
    "cents,text",
    [(0, "$0.00"), (5, "$0.05"), (1234, "$12.34"), (123456789, "$1,234,567.89"), (-5, "-$0.05")],
)
def test_format_cents(cents, text):
    assert format_cents(cents) == text


def test_discounted_total_of_a_basket():
    basket = [(2, 1250), (3, 199)]  # (qty, unit price in cents)
    subtotal = sum(qty * price for qty, price in basket)
    total = apply_discount(subtotal, 15)
    assert (subtotal, total) == (3097, 2632)
    assert format_cents(total) == "$26.32"


@dbtest.parametrize(
    "email,valid",
    [
        ("ann@example.com", True),
        ("first.last+tag@sub.example.org", True),
        ("no-at-sign.example.com", False),
        ("two@@example.com", False),
        ("spaces in@example.com", False),
        ("ann@localhost", False),
    ],
    ids=["plain", "dots-and-plus", "no-at", "double-at", "space", "no-tld"],
)
def test_is_valid_email(email, valid):
    assert is_valid_email(email) is valid
