import dbtest


def test_passes():
    assert 1 + 1 == 2


@dbtest.tag("math")
def test_fails():
    total = sum([1, 2, 3])
    assert total == 7
