import asyncio
import time


async def test_async_sleeps():
    print("async test started")
    await asyncio.sleep(10)


def test_sync_sleeps():
    print("sync test started")
    time.sleep(30)


def test_quick():
    print("quick test")
