import sqlite3

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="need --runslow option to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["memory", "disk"])


@pytest.fixture(scope="session")
def connection():
    # Thread-bound: every test that uses it must run on the thread that made it.
    conn = sqlite3.connect(":memory:")
    conn.execute("create table t (x int)")
    yield conn
    conn.close()


@pytest.fixture(params=[1, 2], ids=["one", "two"])
def number(request):
    return request.param


@pytest.fixture
def greeting():
    return "hello"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.setenv("SUITE", "compat")


def pytest_runtest_setup(item):
    log = getattr(item.module, "RUNTEST_LOG", None)
    if log is not None:
        log.append(f"setup {item.name}")


def pytest_runtest_teardown(item, nextitem):
    log = getattr(item.module, "RUNTEST_LOG", None)
    if log is not None:
        log.append(f"teardown {item.name}")
