"""Which async library runs the caller."""

import asyncio


def running_library() -> str:
    import trio

    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        asyncio.get_running_loop()
        return "asyncio"
    return "trio"
