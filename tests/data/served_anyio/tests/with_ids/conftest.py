import pytest

from tests.libraries import running_library


@pytest.fixture(params=[pytest.param(("asyncio", {}), id="aio"), pytest.param("trio", id="trio")])
def anyio_backend(request):
    return request.param


@pytest.fixture
async def connection(anyio_backend_name):
    yield {"library": running_library(), "backend": anyio_backend_name}
