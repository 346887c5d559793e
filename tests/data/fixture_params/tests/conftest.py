import pytest
from eventlog import record


@pytest.fixture(scope="session", params=["s1", "s2"])
def backend(request):
    record("session", f"setup backend {request.param}")
    yield request.param
    record("session", f"teardown backend {request.param}")
