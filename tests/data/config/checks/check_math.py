def test_addition():
    assert 1 + 1 == 2


def test_subtraction():
    assert 3 - 1 == 2
