"""Report queries (joins and aggregates) over one fixed data set.

The data is seeded once, in `setup_suite`, into a private in-memory database that the suite
owns: the tests only read, so they cannot disturb each other, and they need neither the shared
connection nor its lock (they overlap freely with the other files' tests).
"""

import dbtest
import shop
from shop import CustomerRevenue, Line, OrderRepo, UserRepo


@dbtest.tag("db")
class TestSalesReport(dbtest.TestSuite):
    async def setup_suite(self):
        self.conn = await shop.connect(":memory:")
        try:
            await shop.create_schema(self.conn)
            self.users, self.orders = UserRepo(self.conn), OrderRepo(self.conn)
            async with shop.transaction(self.conn):  # one commit for the whole data set
                ann = await self.users.create("ann@example.com", "Ann")
                bob = await self.users.create("bob@example.com", "Bob")
                cy = await self.users.create("cy@example.com", "Cy")
                await self.users.create("dee@example.com", "Dee")  # never ordered
                await self.orders.place(ann.id, [Line("book", 2, 1250)])  # 2500
                await self.orders.place(ann.id, [Line("pen", 1, 199)])  # 199
                await self.orders.place(bob.id, [Line("lamp", 1, 4000)], discount_percent=25)  # 3000
                cancelled = await self.orders.place(cy.id, [Line("desk", 1, 25000)])
                await self.orders.set_status(cancelled.id, "cancelled")
                await self.orders.place(cy.id, [Line("pen", 10, 199)])  # 1990
        except BaseException:
            await self.conn.close()
            raise

    async def teardown_suite(self):
        await self.conn.close()

    async def test_revenue_by_user(self):
        assert await self.orders.revenue_by_user() == [
            CustomerRevenue("bob@example.com", 1, 3000),
            CustomerRevenue("ann@example.com", 2, 2699),
            CustomerRevenue("cy@example.com", 1, 1990),
            CustomerRevenue("dee@example.com", 0, 0),
        ]

    @dbtest.parametrize(
        "n,expected",
        [
            (1, ["bob@example.com"]),
            (3, ["bob@example.com", "ann@example.com", "cy@example.com"]),
            (10, ["bob@example.com", "ann@example.com", "cy@example.com"]),  # dee never spent
        ],
        ids=["top-1", "top-3", "more-than-there-are"],
    )
    async def test_top_customers(self, n, expected):
        assert await self.orders.top_customers(n) == expected

    async def test_cancelled_orders_still_exist(self):
        cy = await self.users.get_by_email("cy@example.com")
        statuses = sorted(o.status for o in await self.orders.for_user(cy.id))
        assert statuses == ["cancelled", "pending"]

    async def test_the_data_set_was_committed(self):
        # setup_suite's transaction() was the outermost one, so RELEASE committed it.
        assert not self.conn.in_transaction
        rows = await self.conn.execute_fetchall("SELECT COUNT(*) FROM orders")
        assert rows[0][0] == 5
