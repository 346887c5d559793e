"""anyio's own `anyio_backend` fixture: every test marked anyio runs once per backend."""

import contextvars
import socket

import pytest

from tests.libraries import running_library

request_id = contextvars.ContextVar("request_id", default="unset")
torn_down: list[str] = []


@pytest.fixture
async def session_on_backend(anyio_backend_name):
    request_id.set("from-fixture")
    yield running_library()
    torn_down.append(running_library())


@pytest.mark.anyio
async def test_runs_on_its_backend(anyio_backend_name):
    assert running_library() == anyio_backend_name


@pytest.mark.anyio
async def test_async_fixture_on_the_same_backend(session_on_backend, anyio_backend_name):
    assert session_on_backend == anyio_backend_name
    assert request_id.get() == "from-fixture"


@pytest.mark.anyio
async def test_fixture_teardown_ran_on_its_backend(anyio_backend_name):
    assert torn_down and set(torn_down) <= {"asyncio", "trio"}


@pytest.mark.anyio
async def test_fails_on_each_backend():
    assert running_library() == "neither"


@pytest.mark.anyio
async def test_skips_inside(anyio_backend_name):
    if anyio_backend_name == "trio":
        pytest.skip("not on trio")


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 2])
async def test_parametrized(size, anyio_backend):
    assert size in (1, 2)
    assert running_library() == anyio_backend


def test_sync_test_sees_the_backend(anyio_backend_name, anyio_backend_options):
    assert anyio_backend_name in ("asyncio", "trio")
    assert anyio_backend_options == {}


async def test_asks_for_the_backend_without_the_mark(anyio_backend):
    assert running_library() == anyio_backend


def test_free_ports(free_tcp_port, free_udp_port_factory):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_tcp_port))
    assert free_udp_port_factory() != free_udp_port_factory()


@pytest.mark.anyio
class TestMarkedClass:
    async def test_method(self, anyio_backend_name):
        assert running_library() == anyio_backend_name

    def test_sync_method_is_not_parametrized(self):
        pass


@pytest.mark.anyio
async def test_prints(anyio_backend_name):
    print(f"printed on {anyio_backend_name}")
