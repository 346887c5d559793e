import time

import dbtest

from serial_log import OUT, record, wait_for

RES = "shared" + "-db"


def test_b_starts_once_a_holds_it():
    wait_for(OUT / "a.holding", "test_a_holds.py did not run beside this file")
    (OUT / "b.ready").write_text("")


@dbtest.serial(RES)
@dbtest.timeout(1)
def test_b_waits_longer_than_its_timeout():
    record("b2", "start")
    time.sleep(0.1)
    record("b2", "end")


@dbtest.serial(RES)
def test_b_again():
    record("b3", "start")
    time.sleep(0.2)
    record("b3", "end")
