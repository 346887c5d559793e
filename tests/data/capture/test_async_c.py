import asyncio
import sys

from rendezvous import meet


async def test_c_first():
    print("<c1 out before>")
    print("<c1 err before>", file=sys.stderr)
    await meet("first", 3)
    await asyncio.sleep(0.01)
    print("<c1 out after>")
    print("<c1 err after>", file=sys.stderr)


async def test_c_second():
    print("<c2 out before>")
    await meet("second", 3)
    await asyncio.sleep(0)
    sys.stdout.write("<c2 out after>\n")
    sys.stderr.write("<c2 err only>\n")


async def test_c_task():
    async def child():
        await asyncio.sleep(0)
        print("<c3 out from task>")

    await meet("third", 3)
    await asyncio.gather(child(), asyncio.create_task(child()))
    print("<c3 out after task>")
