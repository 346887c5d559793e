import dbtest
import module_that_does_not_exist_dbtest  # noqa: F401


def test_never_collected():
    pass
