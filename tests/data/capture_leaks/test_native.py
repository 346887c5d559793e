"""A file written for dbtest: its tests may overlap, so fds 1 and 2 stay the process's. What
a subprocess writes there is not captured, but reaches the console rather than being lost."""

import subprocess
import sys
import threading

import dbtest


def test_native_thread_prints():
    t = threading.Thread(target=lambda: print("<native thread out>"))
    t.start()
    t.join()


@dbtest.timeout(30)
def test_native_subprocess_prints():
    subprocess.run([sys.executable, "-c", "print('<native child out>')"], check=True)
