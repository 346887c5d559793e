"""pytest plugins (DESIGN section 4c).

`ENGINE_SERVED`: the plugins whose job is the engine's. They are never registered (their
hooks would run a second event loop, a second scheduler, a second timer beside dbtest's);
what they give a suite is served by the module named, and only while the plugin is
installed, so a suite sees the fixtures and flags pytest with that plugin would give it.
Keys are the modules of the plugins' `pytest11` entry points.
"""

from __future__ import annotations

ENGINE_SERVED: dict[str, str] = {
    "anyio.pytest_plugin": "dbtest._compat.served (anyio: the anyio mark and anyio_mode, anyio_backend and its "
                           "params on the run's loop or in anyio's runner, free_*_port fixtures)",
    "pytest_asyncio.plugin": "dbtest._compat.served and the engine's event loop (marks, modes, async fixtures, "
                             "unused_*_port fixtures, event_loop_policy)",
    "xdist.plugin": "dbtest._compat.served and --workers (-n N|auto, worker_id, testrun_uid, PYTEST_XDIST_WORKER)",
    "xdist.looponfail": "dbtest unit --watch",
    "pytest_timeout": "dbtest's per-test timeout (timeout ini key, --timeout, the timeout mark)",
    "pytest_rerunfailures": "dbtest's retries (--reruns, --reruns-delay, the flaky mark)",
    "pytest_randomly": "dbtest._compat.served and --random-order (seed, random.seed reset per test)",
    "pytest_benchmark.plugin": "dbtest._compat.benchmark (the benchmark fixture on dbtest bench's engine)",
    "pytest_codspeed.plugin": "dbtest._compat.served (its benchmark fixture outside CodSpeed: one call)",
    "pytest_cov.plugin": "dbtest unit --cov (coverage.py driven by the engine)",
}
