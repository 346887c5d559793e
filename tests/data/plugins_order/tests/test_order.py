import pytest

RAN = []


@pytest.mark.order(3)
def test_third():
    RAN.append("third")
    assert RAN == ["first", "second", "third"]


@pytest.mark.order(1)
def test_first():
    RAN.append("first")
    assert RAN == ["first"]


@pytest.mark.order(2)
def test_second():
    RAN.append("second")


def test_unordered_runs_after_the_ordered():
    assert RAN == ["first", "second", "third"]


@pytest.mark.order(-1)
def test_last():
    assert "after" in RAN


@pytest.mark.order(after="test_unordered_runs_after_the_ordered")
def test_after_a_named_test():
    RAN.append("after")
