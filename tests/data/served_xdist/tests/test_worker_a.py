"""pytest-xdist's worker_id, testrun_uid and environment, in a worker and in-process."""

import os
import re
from pathlib import Path


def in_a_worker() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ


def test_worker_id(worker_id, request):
    if in_a_worker():
        assert worker_id == os.environ["PYTEST_XDIST_WORKER"]
        assert re.fullmatch(r"gw\d+", worker_id)
        assert request.config.workerinput["workerid"] == worker_id
    else:
        assert worker_id == "master"
    out = os.environ.get("SAMPLE_OUT")
    if out:
        with open(Path(out) / "workers.log", "a") as log:
            log.write(f"{worker_id} {os.getpid()}\n")


def test_worker_count():
    if in_a_worker():
        assert os.environ["PYTEST_XDIST_WORKER_COUNT"] == "2"


def test_testrun_uid(testrun_uid):
    assert re.fullmatch(r"[0-9a-f]{32}", testrun_uid)
    if in_a_worker():
        assert testrun_uid == os.environ["PYTEST_XDIST_TESTRUNUID"]


def test_workerinput_only_in_a_worker(pytestconfig):
    # What conftests test to know whether they run in an xdist worker.
    assert hasattr(pytestconfig, "workerinput") == in_a_worker()
