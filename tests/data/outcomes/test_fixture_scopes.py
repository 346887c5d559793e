import asyncio

import dbtest
from _log import log


@dbtest.fixture(scope="file")
def per_file():
    log("file_fixture.log", "created")
    return {"hits": 0}


@dbtest.fixture(scope="file")
async def per_file_async():
    log("file_async_fixture.log", "created")
    yield asyncio.get_running_loop()
    log("file_async_fixture.log", "closed")


@dbtest.fixture
def per_test():
    log("test_fixture.log", "created")
    return object()


@dbtest.fixture
def failing_guard():
    yield "guard"
    log("teardown.log", "teardown ran after failure")


def test_file_fixture_one(per_file, per_test):
    per_file["hits"] += 1


def test_file_fixture_two(per_file, per_test, per_file_async):
    per_file["hits"] += 1
    assert per_file["hits"] == 2


async def test_file_fixture_async(per_file, per_file_async):
    assert per_file["hits"] == 2
    assert per_file_async is asyncio.get_running_loop()


def test_yield_teardown_runs_on_failure(failing_guard):
    assert failing_guard == "not the guard"
