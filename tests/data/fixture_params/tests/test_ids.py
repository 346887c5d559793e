"""The order of the parts of an id when parametrized fixtures are reached through others:
the fixture closure's order (wider scopes first), as pytest's."""

import pytest


@pytest.fixture(scope="module", params=["a", "b"])
def inner(request):
    return request.param


@pytest.fixture(params=["x"])
def outer(request, inner):
    return request.param + inner


def test_through_a_fixture(outer):
    assert outer in ("xa", "xb")


@pytest.fixture(params=["g1"])
def leaf(request):
    return request.param


@pytest.fixture
def middle(leaf):
    return leaf


@pytest.fixture(params=["f2"])
def sibling(request):
    return request.param


def test_depth_and_breadth(middle, sibling):
    # pytest 9 walks the closure depth first (leaf before sibling); pytest 7 and 8 breadth
    # first (sibling before leaf): the id follows the installed pytest.
    assert (middle, sibling) == ("g1", "f2")


@pytest.mark.parametrize("n", [1])
def test_with_a_mark(n, outer):
    assert n == 1
