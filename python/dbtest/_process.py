"""How a dbtest process ends."""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """Ends the process once the engine has run. The engine's threads may still hold Python
    state (a sync test abandoned after its timeout keeps running; a worker thread may be
    releasing its last reference), and interpreter finalisation with foreign threads attached
    can abort. So: run the atexit handlers (coverage and friends save their data there), flush,
    and leave without finalising."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
