import asyncio


async def test_session_in_a(session_resource):
    assert session_resource["loop"] is asyncio.get_running_loop()
