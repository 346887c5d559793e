"""Tests that take their process down, among ordinary ones: run with --workers."""

import ctypes
import os
import time


def test_before():
    assert 1 + 1 == 2


def test_hard_exit():
    print("leaving now")
    os._exit(3)


def test_between():
    assert True


def test_segfault():
    print("about to read address 0")
    ctypes.string_at(0)


def test_sleeping_hang():
    time.sleep(60)


def test_cpu_spin():
    while True:
        pass


async def test_blocks_the_loop():
    while True:
        pass


def test_after():
    assert "still" + " running"
