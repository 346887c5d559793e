"""pytest-rerunfailures: `--reruns` from addopts, and the flaky mark's own count."""

import pytest

attempts: dict[str, int] = {}


def attempt(name: str) -> int:
    attempts[name] = attempts.get(name, 0) + 1
    return attempts[name]


def test_passes_on_its_rerun():
    assert attempt("rerun") >= 2


def test_fails_every_time():
    assert attempt("always") == 0


@pytest.mark.flaky(reruns=3)
def test_mark_gives_more_reruns():
    assert attempt("marked") >= 4


@pytest.mark.flaky(reruns=0)
def test_mark_gives_none():
    assert attempt("none") >= 2
