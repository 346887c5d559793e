import asyncio
import sys
import time


def test_m_sync_noisy():
    for i in range(3):
        print(f"<m1 out {i}>")
        time.sleep(0.005)
    print("<m1 err>", file=sys.stderr)


async def test_m_async_noisy():
    for i in range(3):
        print(f"<m2 out {i}>")
        await asyncio.sleep(0.005)


def test_m_fails_after_print():
    print("<m3 out before failure>")
    print("<m3 err before failure>", file=sys.stderr)
    assert 1 == 2
