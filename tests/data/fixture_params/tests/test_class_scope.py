"""Class-scoped fixtures with params: grouped within each class, never across classes."""

import pytest
from eventlog import record


@pytest.fixture(scope="class", params=["c1", "c2"])
def conn(request):
    record(__file__, f"setup conn {request.param}")
    yield request.param
    record(__file__, f"teardown conn {request.param}")


class TestOne:
    def test_a(self, conn):
        record(__file__, f"TestOne.test_a {conn}")

    def test_b(self, conn):
        record(__file__, f"TestOne.test_b {conn}")

    def test_c(self):
        record(__file__, "TestOne.test_c")


class TestTwo:
    @pytest.fixture(scope="class", params=["k1", "k2"])
    def key(self, request):
        record(__file__, f"setup key {request.param}")
        yield request.param
        record(__file__, f"teardown key {request.param}")

    def test_d(self, conn, key):
        record(__file__, f"TestTwo.test_d {conn} {key}")

    def test_e(self, key):
        record(__file__, f"TestTwo.test_e {key}")


def test_outside(conn):
    record(__file__, f"test_outside {conn}")
