import dbtest


@dbtest.skip("not today")
def test_skip_decorator():
    raise AssertionError("a skipped test must not run")


@dbtest.skip_if(True, "condition holds")
def test_skip_if_true():
    raise AssertionError("a skipped test must not run")


@dbtest.skip_if(False, "condition does not hold")
def test_skip_if_false():
    pass


def test_skip_inside():
    dbtest.skip_test("decided at run time")
    raise AssertionError("unreachable")


async def test_skip_inside_async():
    dbtest.skip_test("decided at run time, async")
