import pytest


def pytest_addoption(parser):
    parser.addini("service_url", "where the service under test listens")


@pytest.fixture
def service_url(pytestconfig):
    return pytestconfig.getini("service_url")
