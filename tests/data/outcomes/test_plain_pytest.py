# A pytest-style file: no `import dbtest` at all.


def test_plain_function():
    assert [1, 2] + [3] == [1, 2, 3]


class TestPlainClass:
    def setup_method(self, method):
        self.value = 10

    def test_method(self):
        assert self.value == 10

    def test_method_fails(self):
        assert self.value == 11
