import dbtest


@dbtest.fixture(scope="file")
def file_thing():
    yield "file"
    raise RuntimeError("file teardown exploded")


def test_uses_session(session_thing):
    assert session_thing == "session"


def test_uses_file(file_thing):
    assert file_thing == "file"


class TestBrokenSuite(dbtest.TestSuite):
    def teardown_suite(self):
        raise RuntimeError("teardown_suite exploded")

    def test_in_suite(self):
        pass
