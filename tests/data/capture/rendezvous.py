"""Makes tests of different files wait for each other, so that they surely overlap.

A test that cannot meet its partners within the time limit reports it, and the end-to-end
suite can tell "did not overlap" apart from "captured the wrong output".
"""

import asyncio
import threading

_async_groups: dict[str, list] = {}
_sync_groups: dict[str, threading.Barrier] = {}
_lock = threading.Lock()

LIMIT_S = 10.0


async def meet(group: str, parties: int) -> None:
    state = _async_groups.setdefault(group, [0, asyncio.Event()])
    state[0] += 1
    if state[0] >= parties:
        state[1].set()
    try:
        await asyncio.wait_for(state[1].wait(), LIMIT_S)
    except TimeoutError:
        raise AssertionError(f"async tests of group {group!r} did not overlap") from None


def meet_sync(group: str, parties: int) -> None:
    with _lock:
        barrier = _sync_groups.setdefault(group, threading.Barrier(parties))
    try:
        barrier.wait(LIMIT_S)
    except threading.BrokenBarrierError:
        raise AssertionError(f"sync tests of group {group!r} did not overlap") from None
