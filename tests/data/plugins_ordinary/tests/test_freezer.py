import datetime as dt

import pytest


def test_freezer_freezes(freezer):
    freezer.move_to("2010-05-06 07:08:09")
    assert dt.datetime.now() == dt.datetime(2010, 5, 6, 7, 8, 9)
    freezer.tick(dt.timedelta(seconds=1))
    assert dt.datetime.now().second == 10


@pytest.mark.freeze_time("1999-12-31")
def test_freeze_time_mark():
    assert dt.date.today() == dt.date(1999, 12, 31)


def test_wrong_frozen_date_fails(freezer):
    freezer.move_to("2020-01-01")
    assert dt.date.today().year == 2021
