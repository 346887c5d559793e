import dbtest  # noqa: F401 - a file written for dbtest: its tests may overlap

from loud import OUT, shout

# Both tests print at once in one worker.
concurrent = True


def test_loud_a():
    shout("a")
    (OUT / "a.done").write_text("")


def test_loud_b():
    assert not (OUT / "a.done").exists(), "test_loud_a ended before this test began"
    # Its threads go on printing as test_loud_a ends, while the engine sends a's result (with
    # megabytes of a's output) up the same pipe.
    shout("b", until=OUT / "a.done")
