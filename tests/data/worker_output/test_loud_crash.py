import os
import sys

import dbtest  # noqa: F401

from loud import PAYLOAD, shout


def test_loud_then_gone():
    # What a test printed before it killed its worker is mirrored to the parent as it goes.
    shout("d")
    sys.stdout.write(f"last words {PAYLOAD}\n")
    os._exit(3)
