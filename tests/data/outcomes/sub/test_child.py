from helpers import double


def test_uses_parent_conftest(root_value):
    assert root_value + 1 == 42


def test_uses_sibling_helper():
    assert double(21) == 42
