"""dbtest: fast sync and async tests, sound benchmarks and probabilistic tests, on a Rust engine.

    import dbtest

    @dbtest.fixture(scope="session")
    async def pool(): ...

    async def test_insert(pool): ...
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any

if "DBTEST_COV_EARLY" in os.environ:
    # `dbtest unit --cov` started again to measure a package dbtest itself imports (click,
    # yaml): measuring begins here, before anything else is imported.
    from ._coverage import start_early

    start_early()

# Names load on first use, so that `dbtest` on a folder with nothing to run starts fast.
_EXPORTS = {
    "TestSuite": "._compat.collect",
    "BenchmarkGroup": "._bench",
    "bench": "._bench",
    "fixture": "._compat.fixtures",
    "Skipped": "._marks",
    "concurrent": "._marks",
    "flaky": "._marks",
    "serial": "._marks",
    "parametrize": "._marks",
    "skip": "._marks",
    "skip_if": "._marks",
    "skip_test": "._marks",
    "tag": "._marks",
    "timeout": "._marks",
    "xfail": "._marks",
    "Context": "._experiment",
    "Sample": "._experiment",
    "Reply": "._experiment",
    "ModelError": "._experiment",
    "ModelAuthError": "._experiment",
    "PromptRejected": "._experiment",
    "probabilistic_test": "._experiment",
    "use_case": "._experiment",
}

if TYPE_CHECKING:
    from ._bench import BenchmarkGroup, bench
    from ._compat.collect import TestSuite
    from ._compat.fixtures import fixture
    from ._experiment import (
        Context,
        ModelAuthError,
        ModelError,
        PromptRejected,
        Reply,
        Sample,
        probabilistic_test,
        use_case,
    )
    from ._marks import Skipped, concurrent, flaky, parametrize, serial, skip, skip_if, skip_test, tag, timeout, xfail

__all__ = [
    "BenchmarkGroup",
    "Context",
    "ModelAuthError",
    "ModelError",
    "PromptRejected",
    "Reply",
    "Sample",
    "Skipped",
    "TestSuite",
    "__version__",
    "bench",
    "concurrent",
    "fixture",
    "flaky",
    "parametrize",
    "probabilistic_test",
    "serial",
    "skip",
    "skip_if",
    "skip_test",
    "tag",
    "timeout",
    "use_case",
    "xfail",
]
# One name list, checked: every lazy export is in __all__.
assert sorted([*_EXPORTS, "__version__"]) == __all__


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from ._core import __version__

        return __version__
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dbtest' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
