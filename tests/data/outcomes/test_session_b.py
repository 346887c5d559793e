import asyncio


async def test_session_in_b(session_resource):
    assert session_resource["loop"] is asyncio.get_running_loop()


def test_session_from_sync(session_resource):
    assert session_resource["name"] == "resource"
