import asyncio
import os
import tempfile
from pathlib import Path


def _out():
    return Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir())


def test_quick_1():
    pass


async def test_quick_2():
    await asyncio.sleep(0)


def test_quick_3():
    print("quick 3 output")


async def test_slow():
    # Tests of one file run in their written order: when this marker exists, the quick
    # tests above have finished.
    (_out() / "slow_async.started").write_text("started\n")
    await asyncio.sleep(30)
