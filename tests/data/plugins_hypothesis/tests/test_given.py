import pytest
from hypothesis import example, given, settings, strategies as st
from hypothesis.core import global_force_seed

EXAMPLES = []


@given(st.integers())
def test_addition_commutes(x):
    assert x + 1 == 1 + x


@given(st.integers(min_value=0))
def test_shrinks_to_the_smallest_failure(x):
    assert x < 10


def test_profile_from_the_option():
    assert settings.default.max_examples == 25
    assert settings.get_current_profile_name() == "sample"


def test_seed_from_the_option():
    assert global_force_seed == 1234


@settings(max_examples=5)
@given(st.text())
def test_settings_decorator(s):
    EXAMPLES.append(s)


def test_settings_decorator_ran_its_examples():
    assert 1 <= len(EXAMPLES) <= 5


@example(x=-1)
@given(st.integers(min_value=0))
def test_explicit_example_runs_first(x):
    assert x >= 0


@pytest.mark.parametrize("offset", [1, 2])
@given(x=st.integers())
def test_parametrized_given(offset, x):
    assert x + offset > x


@pytest.fixture(scope="module")
def base():
    return 100


@given(x=st.integers(0, 10))
def test_given_with_a_module_fixture(base, x):
    assert base + x >= 100
