"""Output of threads a test starts belongs to that test (pytest-style: runs alone)."""

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

_late = threading.Event()
_late_done = threading.Event()


def _say(text):
    print(f"<{text} out>")
    print(f"<{text} err>", file=sys.stderr)


def test_thread_prints():
    print("<main before>")
    t = threading.Thread(target=_say, args=("thread",))
    t.start()
    t.join()
    print("<main after>")


# Made at import; its one thread is started by the first test that submits a job.
POOL = ThreadPoolExecutor(max_workers=1)


def test_executor_prints():
    POOL.submit(_say, "pool a").result()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_say, "pool b").result()


def test_executor_thread_reused_by_the_next_test():
    # The pool's thread was started by the test before: each job is its submitter's.
    POOL.submit(_say, "pool reused").result()


def test_thread_subclass_prints():
    class Worker(threading.Thread):
        def run(self):
            _say("subclass")

    w = Worker()
    w.start()
    w.join()


def test_starts_a_thread_that_outlives_it():
    def later():
        _late.wait(30)
        print("<late thread out>")
        _late_done.set()

    threading.Thread(target=later, daemon=True).start()
    print("<starter>")


def test_runs_while_the_late_thread_prints():
    # The only test running when the earlier test's thread prints: the output is here, as
    # pytest's global capture would put it, instead of lost.
    _late.set()
    assert _late_done.wait(30)
