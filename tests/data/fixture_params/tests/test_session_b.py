from eventlog import record


def test_three(backend):
    record(__file__, f"test_three {backend}")


def test_four():
    record(__file__, "test_four")


def test_five(backend):
    record(__file__, f"test_five {backend}")
