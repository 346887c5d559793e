import asyncio


def test_sync():
    assert sum(range(10)) == 45


async def test_async():
    await asyncio.sleep(0.01)
    assert True
