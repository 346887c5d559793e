"""fd-level output (subprocesses, C code) of a test that runs alone is its own."""

import os
import subprocess
import sys

CHILD = "import sys; print('<child out>'); sys.stdout.flush(); print('<child err>', file=sys.stderr)"


def test_subprocess_prints_to_fd_1_and_2():
    print("<py before>")
    subprocess.run([sys.executable, "-c", CHILD], check=True)
    os.write(1, b"<fd 1 direct>\n")
    os.write(2, b"<fd 2 direct>\n")
    print("<py after>")


def test_subprocess_output_then_fails():
    subprocess.run([sys.executable, "-c", CHILD], check=True)
    assert 1 == 2


def test_capfd_still_reads_fd_output(capfd):
    subprocess.run([sys.executable, "-c", CHILD], check=True)
    out, err = capfd.readouterr()
    assert out == "<child out>\n"
    assert err == "<child err>\n"
    print("<after readouterr>")
