import asyncio
import os

import pytest
import pytest_asyncio

from ._helpers import double


def test_relative_import():
    assert double(2) == 4


def test_override(greeting):
    assert greeting == "hello world"


def test_params(number):
    assert number in (1, 2)


def test_generated(backend):
    assert backend in ("memory", "disk")


def test_autouse():
    assert os.environ["SUITE"] == "compat"


@pytest.fixture
def base(request):
    return request.param * 10


@pytest.mark.parametrize("base", [1, 2], indirect=True)
def test_indirect(base):
    assert base in (10, 20)


def test_request(request, doubler):
    assert request.node.name == "test_request"
    assert request.getfixturevalue("greeting") == "hello world"
    assert doubler(3) == 6


@pytest.mark.usefixtures("connection")
def test_usefixtures(request):
    assert "connection" in request.fixturenames


def test_sqlite_thread_one(connection):
    connection.execute("insert into t values (1)")


def test_sqlite_thread_two(connection):
    assert connection.execute("select count(*) from t").fetchone()[0] >= 1


class TestScopes:
    calls = []

    @pytest.fixture(scope="class")
    def per_class(self):
        TestScopes.calls.append("made")
        return len(TestScopes.calls)

    def test_first(self, per_class):
        assert per_class == 1

    def test_second(self, per_class):
        assert per_class == 1


@pytest.mark.slow
def test_slow_is_skipped():
    raise AssertionError("runs only with --runslow")


def test_builtins(tmp_path, capsys, caplog, recwarn):
    import logging
    import warnings

    (tmp_path / "f").write_text("x")
    print("out")
    logging.getLogger("x").warning("logged")
    warnings.warn("careful", UserWarning)
    assert capsys.readouterr().out == "out\n"
    assert "logged" in caplog.text
    assert len(recwarn) == 1


@pytest_asyncio.fixture
async def async_value():
    await asyncio.sleep(0)
    yield 42


@pytest.mark.asyncio
async def test_asyncio_marked(async_value):
    await asyncio.sleep(0)
    assert async_value == 42
