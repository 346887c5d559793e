import asyncio

import dbtest
from _log import log


@dbtest.fixture
def root_value():
    """Defined in the project's top conftest.py; used by sub/test_child.py."""
    return 41


@dbtest.fixture(scope="session")
async def session_resource():
    log("session.log", "created")
    await asyncio.sleep(0)
    yield {"loop": asyncio.get_running_loop(), "name": "resource"}
    log("session.log", "closed")
