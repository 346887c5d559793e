"""What describing a failed assertion costs (dbtest._failure.describe: the assertion's source,
its operands' values, the traceback without dbtest's frames). Every failure of a run pays it,
so it is measured here, with `dbtest bench benches/engine`, rather than asserted in a test.
Before this moved here the test suite asserted under 10 ms a call; it is far below that."""

import dbtest
from dbtest._failure import describe


def _failure() -> BaseException:
    def test_sum() -> None:
        total = 2
        assert total == 3

    try:
        test_sum()
    except AssertionError as exc:
        return exc
    raise RuntimeError("the sample assertion passed")


@dbtest.bench(setup=_failure)
def describe_an_assertion(exc: BaseException) -> None:
    describe(exc, hide_dirs=("/nonexistent",))
