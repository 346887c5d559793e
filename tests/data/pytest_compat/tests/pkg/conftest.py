import pytest

from ._helpers import double


@pytest.fixture
def greeting(greeting):
    # Overrides the outer fixture and uses it.
    return greeting + " world"


@pytest.fixture
def doubler():
    return double
