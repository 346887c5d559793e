import time

import dbtest

from serial_log import OUT, record, wait_for

# The resource is named through a constant: no reading of the source finds it.
RES = "shared-db"


@dbtest.serial(RES)
def test_a_holds_the_resource():
    record("a1", "start")
    (OUT / "a.holding").write_text("")
    wait_for(OUT / "b.ready", "test_b_waits.py did not run beside this file")
    # b's serial test now waits for the resource, longer than its own timeout.
    time.sleep(1.5)
    record("a1", "end")


@dbtest.serial(RES)
def test_a_again():
    record("a2", "start")
    time.sleep(0.2)
    record("a2", "end")
