"""Pure pricing rules: no I/O, so tested with plain sync tests."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def apply_discount(subtotal_cents: int, percent: int) -> int:
    """The total after a whole-percent discount, rounded half up to the cent."""
    if not 0 <= percent <= 100:
        raise ValueError(f"discount must be between 0 and 100 percent, got {percent}")
    if subtotal_cents < 0:
        raise ValueError(f"subtotal cannot be negative, got {subtotal_cents}")
    # Integer arithmetic: (a * b + 50) // 100 rounds half up without float surprises.
    return (subtotal_cents * (100 - percent) + 50) // 100


def format_cents(cents: int) -> str:
    """1234 -> '$12.34', -5 -> '-$0.05', 123456789 -> '$1,234,567.89'."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def is_valid_email(email: str) -> bool:
    return bool(_EMAIL.match(email))
