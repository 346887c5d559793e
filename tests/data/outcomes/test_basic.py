import dbtest


def test_passes():
    assert 1 + 1 == 2


async def test_async_passes():
    assert True


def test_fails():
    expected = 3
    actual = 1 + 1
    assert actual == expected
