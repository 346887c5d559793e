"""A plugin listed in the conftest's `pytest_plugins`."""

import pytest

from sample_plugin import CALLS


@pytest.fixture
def late_fixture():
    return "from the late plugin"


@pytest.hookimpl(trylast=True)
def pytest_runtest_setup(item):
    if "ordering" in item.name:
        CALLS.append("late trylast")


def pytest_collectreport(report):
    """Not called by dbtest: named in one warning."""
