import sys
import time

from rendezvous import meet_sync


def test_y_first():
    print("<y1 out before>")
    print("<y1 err before>", file=sys.stderr)
    meet_sync("sync-first", 2)
    time.sleep(0.01)
    print("<y1 out after>")
    print("<y1 err after>", file=sys.stderr)


def test_y_second():
    print("<y2 out before>")
    meet_sync("sync-second", 2)
    print("<y2 out after>")


def test_y_silent():
    meet_sync("sync-third", 2)
