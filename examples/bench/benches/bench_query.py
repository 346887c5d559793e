"""The same SQLite lookup with and without an index, over tables of two sizes."""

import sqlite3

import dbtest


def make_db(rows: int, indexed: bool) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, cents INTEGER)")
    db.executemany(
        "INSERT INTO orders (customer, cents) VALUES (?, ?)",
        ((i % 500, i * 7 % 10_000) for i in range(rows)),
    )
    if indexed:
        db.execute("CREATE INDEX orders_customer ON orders (customer)")
    return db


lookup = dbtest.BenchmarkGroup("orders of a customer", baseline="indexed")


@lookup.bench("indexed", params=[1_000, 100_000], setup=lambda rows: make_db(rows, indexed=True))
def _(db):
    db.execute("SELECT sum(cents) FROM orders WHERE customer = 42").fetchone()


@lookup.bench("scan", params=[1_000, 100_000], setup=lambda rows: make_db(rows, indexed=False))
def _(db):
    db.execute("SELECT sum(cents) FROM orders WHERE customer = 42").fetchone()


@dbtest.bench
async def bench_async_roundtrip():
    """An async benchmark is awaited on the event loop, like the code it measures."""
    import asyncio

    await asyncio.sleep(0)
