from eventlog import record


def test_one(backend):
    record(__file__, f"test_one {backend}")


def test_two(backend):
    record(__file__, f"test_two {backend}")
