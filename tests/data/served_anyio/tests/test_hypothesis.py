"""anyio's plugin runs each example of a hypothesis test of a coroutine on the backend."""

import pytest
from hypothesis import given, settings, strategies as st

from tests.libraries import running_library

examples: list[str] = []


@pytest.mark.anyio
@settings(max_examples=5)
@given(st.integers())
async def test_each_example_on_the_backend(anyio_backend, number):
    assert running_library() == anyio_backend
    examples.append(anyio_backend)
