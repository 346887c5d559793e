import datetime as dt
import time
import unittest

import pytest
from freezegun import freeze_time


@freeze_time("2012-01-14 03:21:34")
def test_decorated_test_sees_the_frozen_clock():
    assert dt.datetime.now() == dt.datetime(2012, 1, 14, 3, 21, 34)


def test_context_manager_ticks():
    with freeze_time("2000-01-01", tick=False) as frozen:
        frozen.tick(dt.timedelta(hours=2))
        assert dt.datetime.now().hour == 2


@pytest.mark.asyncio
@freeze_time("2012-01-14")
async def test_async_test_is_frozen():
    assert dt.date.today() == dt.date(2012, 1, 14)


@freeze_time("2012-01-14")
@pytest.mark.parametrize("days", [1, 2])
def test_parametrized_under_freeze(days):
    assert dt.date.today() + dt.timedelta(days=days) == dt.date(2012, 1, 14 + days)


@freeze_time("1990-06-01")
class TestFrozenClass:
    def test_method_is_frozen(self):
        assert dt.date.today().year == 1990

    def test_time_time_is_frozen(self):
        assert time.time() == dt.datetime(1990, 6, 1, tzinfo=dt.timezone.utc).timestamp()


@freeze_time("1985-10-26")
class FrozenCase(unittest.TestCase):
    def test_unittest_method_is_frozen(self):
        self.assertEqual(dt.date.today(), dt.date(1985, 10, 26))


def test_clock_is_real_again():
    assert dt.date.today().year > 2020


@freeze_time("2012-01-14")
def test_wrong_date_fails():
    assert dt.date.today() == dt.date(2012, 1, 15)


def test_freezer_fixture(freezer):
    freezer.move_to("2030-03-03")
    assert dt.date.today() == dt.date(2030, 3, 3)
