import pytest


@pytest.fixture
def ep_fixture():
    return "from an entry point"
