import asyncio
import sys

from rendezvous import meet


async def test_a_first():
    print("<a1 out before>")
    print("<a1 err before>", file=sys.stderr)
    await meet("first", 3)
    await asyncio.sleep(0.01)
    print("<a1 out after>")
    print("<a1 err after>", file=sys.stderr)


async def test_a_second():
    print("<a2 out before>")
    await meet("second", 3)
    await asyncio.sleep(0)
    sys.stdout.write("<a2 out after>\n")
    sys.stderr.write("<a2 err only>\n")


async def test_a_task():
    async def child():
        await asyncio.sleep(0)
        print("<a3 out from task>")

    await meet("third", 3)
    await asyncio.gather(child(), asyncio.create_task(child()))
    print("<a3 out after task>")
