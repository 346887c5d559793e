import dbtest


@dbtest.fixture
def known_fixture():
    return 1


@dbtest.fixture
def broken_setup():
    raise RuntimeError("boom in setup")


@dbtest.fixture
def broken_teardown():
    yield 1
    raise RuntimeError("boom in teardown")


def test_missing_fixture(no_such_fixture):
    pass


def test_setup_raises(broken_setup):
    pass


def test_teardown_raises(broken_teardown):
    assert broken_teardown == 1
