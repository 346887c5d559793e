"""Async tests of a dbtest-native file: one stops in the debugger on the run's event loop, the
other overlaps with it and must still pass once the debugger continues."""

import asyncio

import dbtest  # noqa: F401 - a dbtest-native file: its async tests overlap


async def test_async_breakpoint():
    await asyncio.sleep(0)
    planet = "".join(["nep", "tune"])
    breakpoint()
    assert planet.startswith("nep")


async def test_overlapping_neighbour():
    await asyncio.sleep(0.01)
    assert True
