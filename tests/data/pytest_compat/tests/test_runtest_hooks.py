# The conftest's pytest_runtest_setup / pytest_runtest_teardown hooks run around each test.
RUNTEST_LOG = []


def test_first():
    assert RUNTEST_LOG == ["setup test_first"]


def test_second():
    assert RUNTEST_LOG == ["setup test_first", "teardown test_first", "setup test_second"]
