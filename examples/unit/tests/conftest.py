"""Fixtures for the shop's database tests: ONE connection for the whole run, ONE transaction
per test, rolled back when the test ends, so every test starts from the same empty schema.

Why a lock. dbtest runs test files concurrently on one event loop (the tests of one file run
in order, but the files overlap). Every database test here shares the session's single
aiosqlite connection, and a SQLite connection has exactly one transaction at a time. Without
coordination, test A (test_users.py) and test B (test_orders.py) would interleave on it: B's
BEGIN fails ("cannot start a transaction within a transaction"), or B's writes land in A's
transaction and A's ROLLBACK silently undoes them in the middle of B.

So the per-test fixture `conn` holds an asyncio.Lock from before its BEGIN until after its
ROLLBACK: database tests run one at a time, whatever `-j` says, while tests that do not ask
for `conn` (the pure pricing tests, the report suite with its own private database) still
overlap freely. The alternative, a file-scoped connection per test file, would let database
tests of different files run at once, but with SQLite that means either one `:memory:`
database per file (the schema built again for each) or several writers contending for one
file's single write lock; with one shared connection the lock is simple and always correct.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

import dbtest

# dbtest imports test files as pytest does by default ("prepend" mode): tests/ goes on
# sys.path, the project root does not. Make the `shop` package importable without
# installing it (after `pip install -e .` this is a no-op).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import shop  # noqa: E402
from shop import OrderRepo, User, UserRepo  # noqa: E402


@dataclass
class SharedDatabase:
    conn: aiosqlite.Connection
    lock: asyncio.Lock  # held by one test at a time: see the module docstring


@dbtest.fixture(scope="session")
async def database():
    """The run's one connection, to a file database in a temporary folder (use ":memory:" if
    you prefer; a file is closer to production and lets you inspect it while debugging)."""
    with tempfile.TemporaryDirectory(prefix="shop-tests-") as tmp:
        conn = await shop.connect(Path(tmp) / "shop.db")
        try:
            await shop.create_schema(conn)  # once for the whole run
            yield SharedDatabase(conn, asyncio.Lock())
        finally:
            await conn.close()


@dbtest.fixture
async def conn(database: SharedDatabase):
    """The shared connection inside a transaction of this test's own, rolled back afterwards.
    The app's `shop.transaction()` uses SAVEPOINTs, so its writes nest inside this
    transaction instead of committing."""
    async with database.lock:
        c = database.conn
        await c.execute("BEGIN")
        try:
            yield c
        finally:
            committed = not c.in_transaction
            if committed:
                # The test (or the code under test) called COMMIT: its rows are now visible
                # to every later test. Wipe them, then fail this test loudly.
                for table in ("order_lines", "orders", "users"):
                    await c.execute(f"DELETE FROM {table}")
            else:
                await c.execute("ROLLBACK")
    if committed:
        raise RuntimeError("the test committed the per-test transaction; never call commit() in tests")


@dbtest.fixture
def users(conn: aiosqlite.Connection) -> UserRepo:
    return UserRepo(conn)


@dbtest.fixture
def orders(conn: aiosqlite.Connection) -> OrderRepo:
    return OrderRepo(conn)


@dbtest.fixture
async def alice(users: UserRepo) -> User:
    """A user to hang orders on; gone again after the test like everything else."""
    return await users.create("alice@example.com", "Alice")
