"""A module-scoped fixture with params: set up once per param, the tests grouped by it."""

import pytest
from eventlog import record


@pytest.fixture(scope="module", params=["m1", "m2"])
def db(request):
    record(__file__, f"setup db {request.param}")
    yield request.param
    record(__file__, f"teardown db {request.param}")


def test_first(db):
    record(__file__, f"test_first {db}")


def test_plain():
    record(__file__, "test_plain")


@pytest.mark.parametrize("n", [1, 2])
def test_numbered(db, n):
    record(__file__, f"test_numbered {db} {n}")


def test_last(db):
    record(__file__, f"test_last {db}")
