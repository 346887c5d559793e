import dbtest


@dbtest.parametrize("a,b", [(1, 2), (3, 4)], ids=["small", "big"])
def test_add(a, b):
    assert a + 1 == b


@dbtest.parametrize("a,b", [(1, 2), (2, 3)])
def test_plain_ids(a, b):
    assert a + 1 == b


@dbtest.parametrize("x", [1, 2])
@dbtest.parametrize("y", ["p", "q"])
async def test_stacked(x, y):
    assert isinstance(x, int) and isinstance(y, str)
