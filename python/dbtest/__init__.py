"""dbtest: fast sync and async tests, sound benchmarks and probabilistic tests, on a Rust engine.

    import dbtest

    @dbtest.fixture(scope="session")
    async def pool(): ...

    async def test_insert(pool): ...
"""

from ._collect import TestSuite
from ._fixtures import fixture
from ._marks import Skipped, concurrent, parametrize, skip, skip_if, skip_test, tag, timeout, xfail

try:
    from ._core import __version__
except ImportError:  # pragma: no cover - only when the extension is not built
    __version__ = "0.0.0"

__all__ = [
    "Skipped",
    "TestSuite",
    "__version__",
    "concurrent",
    "fixture",
    "parametrize",
    "skip",
    "skip_if",
    "skip_test",
    "tag",
    "timeout",
    "xfail",
]
