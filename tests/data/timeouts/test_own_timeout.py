import time

import dbtest


def test_before():
    pass


@dbtest.timeout(0.5)
def test_sleeps_past_its_own_timeout():
    time.sleep(30)


def test_after():
    pass
