"""Connection set-up, the schema, and the one way the app groups writes: `transaction()`."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import aiosqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id      INTEGER PRIMARY KEY,
    email   TEXT    NOT NULL UNIQUE,
    name    TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status      TEXT    NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
    total_cents INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id         INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    sku              TEXT    NOT NULL,
    qty              INTEGER NOT NULL CHECK (qty > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0)
);
CREATE INDEX IF NOT EXISTS orders_by_user ON orders(user_id);
CREATE INDEX IF NOT EXISTS lines_by_order ON order_lines(order_id);
"""


async def connect(path: str | Path) -> aiosqlite.Connection:
    """Open a connection in autocommit mode (`isolation_level=None`): the app says where its
    transactions begin and end (see `transaction`), Python's sqlite3 never opens one behind
    its back."""
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA foreign_keys = ON")  # only takes effect outside a transaction
    return conn


async def create_schema(conn: aiosqlite.Connection) -> None:
    # executescript() COMMITs any open transaction first: call this at start-up only.
    await conn.executescript(SCHEMA)


@asynccontextmanager
async def transaction(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """All-or-nothing writes. A SAVEPOINT begins a transaction when none is open and RELEASE
    commits it; inside an outer transaction (a caller's, or a test's per-test transaction) it
    nests, and RELEASE only merges into the outer one. So the app never calls commit() and a
    test can roll everything back."""
    await conn.execute("SAVEPOINT shop_tx")
    try:
        yield
    except BaseException:
        await conn.execute("ROLLBACK TO shop_tx")
        await conn.execute("RELEASE shop_tx")
        raise
    await conn.execute("RELEASE shop_tx")
