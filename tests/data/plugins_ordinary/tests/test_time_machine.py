import datetime as dt


def test_travel_fixes_the_clock(time_machine):
    time_machine.move_to(dt.datetime(2001, 2, 3, 4, 5, tzinfo=dt.timezone.utc), tick=False)
    assert dt.datetime.now(dt.timezone.utc).year == 2001


def test_shift_moves_forward(time_machine):
    time_machine.move_to(dt.datetime(2001, 2, 3, tzinfo=dt.timezone.utc), tick=False)
    time_machine.shift(dt.timedelta(days=1))
    assert dt.datetime.now(dt.timezone.utc).day == 4


def test_clock_is_back_after_travel():
    assert dt.datetime.now().year > 2001
