import os
import tempfile
from pathlib import Path

import dbtest


def _touch(name):
    out = Path(os.environ.get("SAMPLE_OUT") or tempfile.gettempdir())
    (out / name).write_text("ran\n")


def test_alpha():
    _touch("alpha.ran")


def test_alphabet():
    pass


def test_beta():
    pass


@dbtest.parametrize("n", [1, 2], ids=["one", "two"])
def test_param(n):
    assert n in (1, 2)


@dbtest.tag("db", "crud")
def test_db_crud():
    pass


@dbtest.tag("db", "slow")
async def test_db_slow():
    pass


@dbtest.tag("flaky")
def test_flaky_only():
    pass


class TestGroup(dbtest.TestSuite):
    tags = ("api",)

    def test_one(self):
        pass

    @dbtest.tag("slow")
    def test_two(self):
        pass
