# Importing this file never returns: it waits at module level (the GIL is released).
import time

time.sleep(10**6)


def test_never_collected():
    pass
