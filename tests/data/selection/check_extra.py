def test_extra_one():
    pass


def test_extra_two():
    pass
