"""Orders: placing them (all or nothing), status changes, joins and cascades."""

import sqlite3

import dbtest
from shop import InvalidTransition, Line, NotFound

BOOK = Line("book", 2, 1250)
PEN = Line("pen", 3, 199)


@dbtest.tag("db")
async def test_place_order_computes_the_discounted_total(orders, alice):
    order = await orders.place(alice.id, [BOOK, PEN], discount_percent=10)
    # subtotal 2 * 12.50 + 3 * 1.99 = 30.97; 10% off = 27.873 -> 27.87
    assert order.total_cents == 2787
    assert order.status == "pending"
    assert order.user_id == alice.id
    assert order.lines == (BOOK, PEN)
    assert await orders.get(order.id) == order


@dbtest.tag("db")
async def test_a_failed_order_leaves_nothing_behind(conn, orders, alice):
    # The second line breaks the CHECK (qty > 0) after the order row and the first line were
    # written; shop.transaction() must roll back to its savepoint...
    try:
        await orders.place(alice.id, [BOOK, Line("broken", 0, 100)])
    except sqlite3.IntegrityError:
        pass
    else:
        raise AssertionError("an order line with qty 0 was accepted")
    assert await orders.for_user(alice.id) == []
    assert await conn.execute_fetchall("SELECT * FROM order_lines") == []
    # ...and only to its savepoint: the test's own transaction (and alice) are still there.
    assert conn.in_transaction
    assert await orders.place(alice.id, [PEN])


@dbtest.tag("db")
async def test_order_for_an_unknown_user_is_refused(orders):
    try:
        await orders.place(999, [BOOK])
    except NotFound as e:
        assert "user 999" in str(e)
    else:
        raise AssertionError("an order without a user was accepted")


@dbtest.tag("db")
@dbtest.parametrize(
    "steps,allowed",
    [
        (["paid"], True),
        (["paid", "shipped"], True),
        (["cancelled"], True),
        (["paid", "cancelled"], True),
        (["shipped"], False),
        (["cancelled", "paid"], False),
        (["paid", "shipped", "cancelled"], False),
    ],
    ids=["pay", "ship", "cancel", "refund", "ship-unpaid", "revive", "cancel-shipped"],
)
async def test_status_transitions(orders, alice, steps, allowed):
    order = await orders.place(alice.id, [BOOK])
    *before, last = steps
    for status in before:
        order = await orders.set_status(order.id, status)
    if allowed:
        assert (await orders.set_status(order.id, last)).status == last
    else:
        try:
            await orders.set_status(order.id, last)
        except InvalidTransition:
            pass
        else:
            raise AssertionError(f"{order.status} -> {last} was allowed")
        assert (await orders.get(order.id)).status == order.status  # unchanged


@dbtest.tag("db")
async def test_deleting_a_user_deletes_their_orders(conn, users, orders, alice):
    first = await orders.place(alice.id, [BOOK])
    await orders.place(alice.id, [PEN])
    assert await users.delete(alice.id)
    assert await orders.for_user(alice.id) == []
    assert await conn.execute_fetchall("SELECT * FROM order_lines") == []
    try:
        await orders.get(first.id)
    except NotFound:
        pass
    else:
        raise AssertionError("the order outlived its user")


@dbtest.tag("db", "slow")
@dbtest.timeout(60)
async def test_revenue_over_many_orders(users, orders):
    customers = [await users.create(f"customer{i:02d}@example.com", f"Customer {i}") for i in range(20)]
    expected = {c.email: 0 for c in customers}
    for n in range(1000):
        customer = customers[n % len(customers)]
        order = await orders.place(customer.id, [Line(f"sku-{n}", 1 + n % 3, 100 + n)], discount_percent=n % 4)
        if (n // len(customers)) % 10 == 0:  # every customer's 1st, 11th, 21st... order
            await orders.set_status(order.id, "cancelled")
        else:
            expected[customer.email] += order.total_cents
    report = await orders.revenue_by_user()
    assert {r.email: r.revenue_cents for r in report} == expected
    assert all(r.orders == 45 for r in report)  # 50 orders each, 5 cancelled
    assert [r.revenue_cents for r in report] == sorted(expected.values(), reverse=True)
