"""Running one `unittest.TestCase` method as pytest does: unittest's own machinery runs it
(setUp, tearDown, cleanups, subTest, skips, expectedFailure, IsolatedAsyncioTestCase's loop),
and a result object turns what it reports into dbtest's outcome."""

from __future__ import annotations

import unittest
from typing import Any


class Outcome(unittest.TestResult):
    """What one test method came to: the first failure (with its exception, for the failure
    report), a skip reason, or an expected failure."""

    def __init__(self) -> None:
        super().__init__()
        self.outcome = "passed"
        self.exception: BaseException | None = None
        self.message: str | None = None
        self.subtests_failed = 0

    def _fail(self, err: Any, where: str | None = None) -> None:
        if self.exception is None:
            _, value, tb = err
            if value is not None and tb is not None:
                value = value.with_traceback(tb)
            self.exception = value
            self.message = where
        self.outcome = "failed"

    def addError(self, test: Any, err: Any) -> None:
        if err[0] is not None and issubclass(err[0], KeyboardInterrupt):
            raise err[1]
        self._fail(err)

    def addFailure(self, test: Any, err: Any) -> None:
        self._fail(err)

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        if err is not None:
            self.subtests_failed += 1
            self._fail(err, f"subtest {subtest._subDescription()}")

    def addSkip(self, test: Any, reason: str) -> None:
        if self.outcome == "passed":
            self.outcome, self.message = "skipped", reason

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        self.outcome, self.message = "xfailed", "expected failure"

    def addUnexpectedSuccess(self, test: Any) -> None:
        self.outcome, self.message = "failed", "Unexpected success"


def run_case(case: Any) -> Outcome:
    """Runs the test case `case` (a `TestCase` made for one method) to its outcome
    (setUpClass is the caller's, once per class)."""
    result = Outcome()
    case.run(result)
    return result


def class_skip_reason(cls: type) -> str | None:
    if getattr(cls, "__unittest_skip__", False):
        return getattr(cls, "__unittest_skip_why__", "") or ""
    return None
