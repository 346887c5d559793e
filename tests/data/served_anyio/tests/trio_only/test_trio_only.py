"""One backend for the folder: ids without a parameter, a module-scoped async fixture."""

import pytest

from tests.libraries import running_library

pytestmark = pytest.mark.anyio


async def test_first(server):
    assert server["library"] == running_library() == "trio"
    server["requests"].append("first")


async def test_second(server):
    assert server["requests"] == ["first"]
    server["requests"].append("second")


async def test_getfixturevalue_of_an_async_fixture_inside_the_runner(request):
    # anyio's runner refuses (on trio it would wait for itself): an error, never a hang.
    with pytest.raises(RuntimeError, match="Cannot schedule a coroutine in the test runner"):
        request.getfixturevalue("fresh")
