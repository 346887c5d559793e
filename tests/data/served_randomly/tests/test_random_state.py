"""pytest-randomly resets `random` before each test from its seed and the test's id: a test
sees the same numbers wherever it runs in the (shuffled) order. Each test leaves what it drew
in SAMPLE_OUT, for the end-to-end test to compare between runs."""

import os
import random
from pathlib import Path

import pytest


def record(name: str) -> None:
    out = os.environ.get("SAMPLE_OUT")
    if out:
        with open(Path(out) / "draws.log", "a") as log:
            log.write(f"{name} {random.random()!r}\n")


def test_one():
    record("test_one")


def test_two():
    random.random()  # moves the shared state on: the next test is reset anyway
    record("test_two")


@pytest.mark.parametrize("n", [1, 2])
def test_params(n, tmp_path):
    record(f"test_params[{n}]")
