"""anyio's auto mode: every coroutine test is anyio's, mark or not; pytest-asyncio's
port and policy fixtures."""

import asyncio
import socket

import sniffio


async def test_unmarked_runs_on_each_backend(anyio_backend_name):
    assert sniffio.current_async_library() == anyio_backend_name


def test_sync_stays_one_test():
    pass


def test_unused_ports(unused_tcp_port, unused_udp_port, unused_tcp_port_factory, unused_udp_port_factory):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", unused_tcp_port))
    with socket.socket(type=socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", unused_udp_port))
    assert unused_tcp_port_factory() != unused_tcp_port_factory()
    assert unused_udp_port_factory() != unused_udp_port_factory()


def test_event_loop_policy(event_loop_policy):
    assert isinstance(event_loop_policy, asyncio.AbstractEventLoopPolicy)
