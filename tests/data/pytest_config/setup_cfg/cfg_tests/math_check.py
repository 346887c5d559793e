def test_fails_first():
    assert 1 == 2


def test_not_reached_after_x():
    assert True
