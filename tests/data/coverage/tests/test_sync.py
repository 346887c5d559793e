import pytest

from shapes.geometry import area


def test_square():
    assert area("square", 3) == 9


def test_unknown():
    with pytest.raises(ValueError):
        area("hexagon", 1)
