"""A conftest's own `anyio_backend`: ids of its own, a backend given with options."""

import pytest

from tests.libraries import running_library

pytestmark = pytest.mark.anyio


async def test_connection_on_the_backend(connection):
    assert connection["library"] == connection["backend"] == running_library()


async def test_options(anyio_backend_options, anyio_backend_name):
    assert anyio_backend_options == {}
    assert running_library() == anyio_backend_name


def test_sync_not_taken():
    pass
