"""With test_hold_b.py: a test stops in the debugger while another file's tests run beside it
(both files import dbtest, so they overlap)."""

import dbtest  # noqa: F401 - a dbtest-native file: it overlaps with test_hold_b.py


def test_stops_in_the_debugger():
    stopped = True
    breakpoint()
    assert stopped
