import pytest

from .state import current_request


@pytest.fixture
def clean_request():
    yield
    # Clears what the test bound in its thread's context, as logging libraries' fixtures do.
    current_request.set(None)


def test_binds_a_request(clean_request):
    current_request.set("r-1")


def test_starts_clean(clean_request):
    assert current_request.get() is None
