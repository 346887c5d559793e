import pytest

import sample_dependency_not_installed  # noqa: F401


@pytest.fixture
def broken_fixture():
    return 1
