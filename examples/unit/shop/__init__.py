"""A tiny async shop: users, orders and order lines in SQLite, through aiosqlite."""

from .db import connect, create_schema, transaction
from .pricing import apply_discount, format_cents, is_valid_email
from .repo import (
    CustomerRevenue,
    DuplicateEmail,
    InvalidTransition,
    Line,
    NotFound,
    Order,
    OrderRepo,
    User,
    UserRepo,
)

__all__ = [
    "CustomerRevenue",
    "DuplicateEmail",
    "InvalidTransition",
    "Line",
    "NotFound",
    "Order",
    "OrderRepo",
    "User",
    "UserRepo",
    "apply_discount",
    "connect",
    "create_schema",
    "format_cents",
    "is_valid_email",
    "transaction",
]
