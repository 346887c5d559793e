import asyncio
import sys

from rendezvous import meet


async def test_b_first():
    print("<b1 out before>")
    print("<b1 err before>", file=sys.stderr)
    await meet("first", 3)
    await asyncio.sleep(0.01)
    print("<b1 out after>")
    print("<b1 err after>", file=sys.stderr)


async def test_b_second():
    print("<b2 out before>")
    await meet("second", 3)
    await asyncio.sleep(0)
    sys.stdout.write("<b2 out after>\n")
    sys.stderr.write("<b2 err only>\n")


async def test_b_task():
    async def child():
        await asyncio.sleep(0)
        print("<b3 out from task>")

    await meet("third", 3)
    await asyncio.gather(child(), asyncio.create_task(child()))
    print("<b3 out after task>")
