"""Repositories: the only code that writes SQL. Each method is one unit of work."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Iterable

import aiosqlite

from .db import transaction
from .pricing import apply_discount, is_valid_email


class NotFound(LookupError):
    pass


class DuplicateEmail(ValueError):
    pass


class InvalidTransition(ValueError):
    pass


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str


@dataclass(frozen=True)
class Line:
    sku: str
    qty: int
    unit_price_cents: int


@dataclass(frozen=True)
class Order:
    id: int
    user_id: int
    status: str
    total_cents: int
    lines: tuple[Line, ...] = field(default=())


@dataclass(frozen=True)
class CustomerRevenue:
    email: str
    orders: int
    revenue_cents: int


class UserRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def create(self, email: str, name: str) -> User:
        if not is_valid_email(email):
            raise ValueError(f"not an email address: {email!r}")
        # Known bug (see tests/test_users.py::test_email_is_case_insensitive): the email is
        # stored as typed, so "Ann@x.io" and "ann@x.io" become two accounts.
        try:
            cursor = await self.conn.execute(
                "INSERT INTO users (email, name) VALUES (?, ?)", (email, name)
            )
        except sqlite3.IntegrityError as e:
            raise DuplicateEmail(email) from e
        return User(cursor.lastrowid, email, name)

    async def get(self, user_id: int) -> User | None:
        rows = await self.conn.execute_fetchall(
            "SELECT id, email, name FROM users WHERE id = ?", (user_id,)
        )
        return User(**dict(rows[0])) if rows else None

    async def get_by_email(self, email: str) -> User | None:
        rows = await self.conn.execute_fetchall(
            "SELECT id, email, name FROM users WHERE email = ?", (email,)
        )
        return User(**dict(rows[0])) if rows else None

    async def list(self) -> list[User]:
        rows = await self.conn.execute_fetchall("SELECT id, email, name FROM users ORDER BY email")
        return [User(**dict(r)) for r in rows]

    async def rename(self, user_id: int, name: str) -> User:
        cursor = await self.conn.execute("UPDATE users SET name = ? WHERE id = ?", (name, user_id))
        if cursor.rowcount == 0:
            raise NotFound(f"user {user_id}")
        user = await self.get(user_id)
        assert user is not None
        return user

    async def delete(self, user_id: int) -> bool:
        """Deletes the user and (ON DELETE CASCADE) their orders; False if there was none."""
        cursor = await self.conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        return cursor.rowcount > 0


# Which status may follow which.
TRANSITIONS = {
    "pending": {"paid", "cancelled"},
    "paid": {"shipped", "cancelled"},
    "shipped": set(),
    "cancelled": set(),
}


class OrderRepo:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def place(self, user_id: int, lines: Iterable[Line], discount_percent: int = 0) -> Order:
        """Writes the order and its lines, all or nothing. The database checks the lines
        (qty > 0, price >= 0) and that the user exists."""
        lines = tuple(lines)
        if not lines:
            raise ValueError("an order needs at least one line")
        async with transaction(self.conn):
            try:
                cursor = await self.conn.execute("INSERT INTO orders (user_id) VALUES (?)", (user_id,))
            except sqlite3.IntegrityError as e:
                raise NotFound(f"user {user_id}") from e
            order_id = cursor.lastrowid
            await self.conn.executemany(
                "INSERT INTO order_lines (order_id, sku, qty, unit_price_cents) VALUES (?, ?, ?, ?)",
                [(order_id, line.sku, line.qty, line.unit_price_cents) for line in lines],
            )
            rows = await self.conn.execute_fetchall(
                "SELECT SUM(qty * unit_price_cents) FROM order_lines WHERE order_id = ?", (order_id,)
            )
            total = apply_discount(rows[0][0], discount_percent)
            await self.conn.execute("UPDATE orders SET total_cents = ? WHERE id = ?", (total, order_id))
        return await self.get(order_id)

    async def get(self, order_id: int) -> Order:
        # One query: the order joined with its lines.
        rows = await self.conn.execute_fetchall(
            """
            SELECT o.id, o.user_id, o.status, o.total_cents, l.sku, l.qty, l.unit_price_cents
            FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
            WHERE o.id = ?
            ORDER BY l.rowid
            """,
            (order_id,),
        )
        if not rows:
            raise NotFound(f"order {order_id}")
        first = rows[0]
        lines = tuple(Line(r["sku"], r["qty"], r["unit_price_cents"]) for r in rows if r["sku"] is not None)
        return Order(first["id"], first["user_id"], first["status"], first["total_cents"], lines)

    async def for_user(self, user_id: int) -> list[Order]:
        rows = await self.conn.execute_fetchall(
            "SELECT id FROM orders WHERE user_id = ? ORDER BY id", (user_id,)
        )
        return [await self.get(r["id"]) for r in rows]

    async def set_status(self, order_id: int, status: str) -> Order:
        order = await self.get(order_id)
        if status not in TRANSITIONS.get(order.status, set()):
            raise InvalidTransition(f"order {order_id}: {order.status} -> {status}")
        await self.conn.execute("UPDATE orders SET status = ? WHERE id = ?", (status, order_id))
        return await self.get(order_id)

    async def revenue_by_user(self) -> list[CustomerRevenue]:
        """Every user with their number of orders and revenue, cancelled orders excluded,
        best customers first (ties by email)."""
        rows = await self.conn.execute_fetchall(
            """
            SELECT u.email,
                   COUNT(o.id)                      AS orders,
                   COALESCE(SUM(o.total_cents), 0) AS revenue_cents
            FROM users u
            LEFT JOIN orders o ON o.user_id = u.id AND o.status != 'cancelled'
            GROUP BY u.id
            ORDER BY revenue_cents DESC, u.email
            """
        )
        return [CustomerRevenue(r["email"], r["orders"], r["revenue_cents"]) for r in rows]

    async def top_customers(self, n: int) -> list[str]:
        return [c.email for c in (await self.revenue_by_user())[:n] if c.revenue_cents > 0]
