"""pytest-timeout: the `timeout` setting, and the mark that overrides it."""

import asyncio
import time

import pytest


def test_quick():
    pass


def test_past_the_setting():
    time.sleep(3)


@pytest.mark.timeout(0)
def test_mark_0_lifts_the_setting():
    time.sleep(1.5)


@pytest.mark.timeout(timeout=5)
def test_mark_gives_more_time():
    time.sleep(1.5)


@pytest.mark.timeout(0.2)
@pytest.mark.asyncio
async def test_mark_gives_less_time():
    await asyncio.sleep(0.6)
