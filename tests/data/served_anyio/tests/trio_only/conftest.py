import pytest

from tests.libraries import running_library


@pytest.fixture(scope="session")
def anyio_backend():
    return "trio"


@pytest.fixture(scope="module")
async def server(anyio_backend):
    """Set up once, in the trio run the module's tests share."""
    state = {"library": running_library(), "requests": []}
    yield state
    assert state["requests"] == ["first", "second"]


@pytest.fixture
async def fresh():
    return running_library()
