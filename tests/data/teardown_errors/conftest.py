import dbtest


@dbtest.fixture(scope="session")
async def session_thing():
    yield "session"
    raise RuntimeError("session teardown exploded")
