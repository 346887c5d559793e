import sys
import time

from rendezvous import meet_sync


def test_x_first():
    print("<x1 out before>")
    print("<x1 err before>", file=sys.stderr)
    meet_sync("sync-first", 2)
    time.sleep(0.01)
    print("<x1 out after>")
    print("<x1 err after>", file=sys.stderr)


def test_x_second():
    print("<x2 out before>")
    meet_sync("sync-second", 2)
    print("<x2 out after>")


def test_x_silent():
    meet_sync("sync-third", 2)
