"""A plugin loaded with `-p sample_plugin` (addopts)."""

import pytest

CALLS: list[str] = []


def pytest_addoption(parser):
    group = parser.getgroup("sample")
    group.addoption("--sample-flag", action="store_true", help="set by addopts")
    group.addoption("--sample-level", default="low", help="set on the command line")
    parser.addini("sample_ini", "a key of the plugin's", default="unset")


def pytest_configure(config):
    config.addinivalue_line("markers", "sample: a marker the plugin registers")


@pytest.fixture
def plugin_settings(pytestconfig):
    return (
        pytestconfig.getoption("sample_flag"),
        pytestconfig.getoption("--sample-level"),
        pytestconfig.getini("sample_ini"),
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if "ordering" in item.name:
        CALLS.append("plugin tryfirst")


@pytest.hookimpl(trylast=True)
def pytest_make_parametrize_id(config, val, argname):
    # The conftest's answer comes first: firstresult stops there for points.
    return f"plugin-{argname}" if argname == "other" else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.sample_when = report.when
    return report
