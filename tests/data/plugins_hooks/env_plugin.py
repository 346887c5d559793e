"""A plugin named in PYTEST_PLUGINS (the e2e test sets it)."""

import pytest


@pytest.fixture
def env_plugin_fixture():
    return "from PYTEST_PLUGINS"
