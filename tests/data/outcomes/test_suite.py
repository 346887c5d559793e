import asyncio

import dbtest
from _log import log


class TestSyncSuite(dbtest.TestSuite):
    tags = ("db", "crud")

    def setup_suite(self):
        log("suite.log", "sync setup_suite")
        self.items = []

    def teardown_suite(self):
        log("suite.log", "sync teardown_suite")

    def setup(self):
        log("suite.log", "sync setup")

    def teardown(self):
        log("suite.log", "sync teardown")

    def test_first(self):
        log("suite.log", "sync test_first")
        self.items.append(1)

    def test_second(self):
        log("suite.log", "sync test_second")
        # The suite instance is shared by the tests of the suite.
        assert self.items == [1]


@dbtest.tag("slow")
class TestAsyncSuite(dbtest.TestSuite):
    tags = ("db",)

    async def setup_suite(self):
        await asyncio.sleep(0)
        log("suite.log", "async setup_suite")
        self.ready = True

    async def teardown_suite(self):
        await asyncio.sleep(0)
        log("suite.log", "async teardown_suite")

    async def setup(self):
        log("suite.log", "async setup")

    async def teardown(self):
        log("suite.log", "async teardown")

    async def test_uses_fixture(self, session_resource):
        log("suite.log", "async test_uses_fixture")
        assert self.ready and session_resource["name"] == "resource"


@dbtest.tag("db", "crud")
async def test_tagged_function():
    pass


@dbtest.tag("slow")
def test_slow_function():
    pass


@dbtest.tag("flaky")
def test_flaky_function():
    pass
