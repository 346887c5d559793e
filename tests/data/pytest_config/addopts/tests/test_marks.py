import pytest


def test_fast():
    assert True


@pytest.mark.slow
def test_slow():
    assert True


@pytest.mark.db
def test_db():
    assert True


def test_skipped_by_keyword():
    assert True
