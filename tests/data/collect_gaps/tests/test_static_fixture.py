import pytest


class TestStaticFixture:
    @pytest.fixture(name="kind", params=("a", "b"))
    @staticmethod
    def _kind(request):
        return request.param

    @pytest.fixture
    @staticmethod
    def plain():
        return "plain"

    def test_param(self, kind):
        assert kind in ("a", "b")

    def test_plain(self, plain):
        assert plain == "plain"
