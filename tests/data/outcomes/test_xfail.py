import dbtest


@dbtest.xfail("known bug")
def test_xfailed():
    assert 1 == 2


@dbtest.xfail("fixed already?")
def test_xpassed():
    assert 1 == 1


@dbtest.xfail("must fail", strict=True)
def test_strict_xpass():
    assert 1 == 1


@dbtest.xfail("known async bug")
async def test_xfailed_async():
    raise ValueError("still broken")
