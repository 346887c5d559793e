"""Module globals whose `__getattr__` answers every name are neither fixtures, marks nor tests."""

from unittest.mock import call

import pytest


class AnswersEverything:
    """Like a query-builder namespace: any attribute is another builder, calling one builds."""

    def __getattr__(self, name):
        return AnswersEverything()

    def __call__(self, *args, **kwargs):
        return AnswersEverything()


func = AnswersEverything()


@pytest.fixture
def value():
    return 3


def test_uses_call(value):
    assert call(value) == call(3)


def test_uses_builder():
    assert isinstance(func.count(), AnswersEverything)
