import asyncio

import dbtest


@dbtest.timeout(0.3)
async def test_times_out():
    await asyncio.sleep(10)


@dbtest.timeout(5)
async def test_within_timeout():
    await asyncio.sleep(0)
