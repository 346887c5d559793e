import pytest


@pytest.mark.xfail(reason="-o xfail_strict=true makes this pass a failure")
def test_unexpected_pass():
    pass


def test_markers_from_the_override(pytestconfig):
    markers = pytestconfig.getini("markers")
    assert "fast: quick ones" in markers
    assert not any(m.startswith("slow") for m in markers)
