import asyncio

import pytest

from .state import current_db, current_mode, current_trace, current_user, lock


@pytest.fixture(scope="module")
async def database(request):
    name = request.module.__name__.rsplit(".", 1)[-1]
    await lock().acquire()
    token = current_db.set(name)
    try:
        yield name
    finally:
        # A token resets only in the context that made it; the lock is released after.
        print(f"closing {name}")
        current_db.reset(token)
        lock().release()


@pytest.fixture
async def user(database):
    token = current_user.set(f"alice@{database}")
    await asyncio.sleep(0)
    yield current_user.get()
    current_user.reset(token)


@pytest.fixture
async def mode():
    current_mode.set("fast")
    return "fast"


@pytest.fixture(scope="module")
def sync_mode():
    token = current_mode.set("sync")
    yield "sync"
    current_mode.reset(token)


@pytest.fixture(scope="module")
def tracing(request):
    token = current_trace.set("traced")
    request.addfinalizer(lambda: current_trace.reset(token))
    yield "traced"


@pytest.fixture
async def async_resource():
    await asyncio.sleep(0)
    yield {"open": True}


@pytest.fixture
def by_name(request):
    # A sync fixture that picks an async one by name, as parametrized backends do.
    return request.getfixturevalue("async_resource")
