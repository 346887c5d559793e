import pytest

from conftest import REPORTS, Point
from sample_plugin import CALLS


def test_plugin_options_and_ini(plugin_settings):
    assert plugin_settings == (True, "high", "from the ini")


def test_fixture_of_a_pytest_plugins_module(late_fixture):
    assert late_fixture == "from the late plugin"


def test_fixture_of_pytest_plugins_env(env_plugin_fixture):
    assert env_plugin_fixture == "from PYTEST_PLUGINS"


def test_turned_off_plugin_gives_no_fixture(faker):
    pass


def test_ordering_tryfirst_trylast():
    assert CALLS == ["plugin tryfirst", "conftest", "late trylast"]


@pytest.mark.parametrize("point", [Point(1), Point(2)])
@pytest.mark.parametrize("other", [object()])
def test_first_result_names_ids(point, other):
    pass


def test_fails_for_the_reports():
    assert False


def test_reports_went_through_the_wrapper():
    seen = [r for r in REPORTS if r[0] == "test_fails_for_the_reports"]
    assert seen == [
        ("test_fails_for_the_reports", "setup", "passed", "setup"),
        ("test_fails_for_the_reports", "call", "failed", "call"),
        ("test_fails_for_the_reports", "teardown", "passed", "teardown"),
    ]


@pytest.mark.sample
def test_marker_registered_by_plugin(request):
    assert request.node.get_closest_marker("sample") is not None
