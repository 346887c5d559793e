# Written for dbtest too (it imports dbtest): these async tests overlap on one loop.
import dbtest  # noqa: F401

from shapes.geometry import area, scaled


async def test_scaled():
    assert await scaled(2, 3) == 6


async def test_scaled_negative():
    assert await scaled(2, -1) == 0


async def test_circle_from_a_coroutine():
    assert area("circle", 1) == 3.14
