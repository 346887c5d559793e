import sys

import dbtest


def test_pass_quiet():
    pass


def test_pass_prints():
    print("junit stdout marker")
    print("junit stderr marker", file=sys.stderr)


def test_fail_one():
    print("output of a failing test")
    assert 1 == 2


async def test_fail_two():
    raise ValueError("async failure")


def test_error_missing(missing_fixture_for_junit):
    pass


@dbtest.skip("skipped for junit")
def test_skipped():
    pass
