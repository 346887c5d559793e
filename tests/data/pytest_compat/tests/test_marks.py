import string as tags  # noqa: F401 - a module named like dbtest's tag list is not one
import sys
import unittest

import pytest


@pytest.mark.parametrize("a", [1, 2])
@pytest.mark.parametrize("b", ["x", "y"])
def test_stacked(a, b):
    pass


@pytest.mark.parametrize("v", ["a", "a", 1.5, None, pytest.param(3, id="three"),
                               pytest.param(4, marks=pytest.mark.xfail(reason="four"))])
def test_ids(v):
    assert v != 4


@pytest.mark.parametrize("x", [])
def test_empty(x):
    pass


@pytest.mark.skipif("sys.version_info < (3, 0)", reason="old python")
def test_skipif_false():
    pass


@pytest.mark.skipif(sys.platform != "nope", reason="always")
def test_skipif_true():
    pass


@pytest.mark.xfail(raises=ZeroDivisionError, reason="divides")
def test_xfail_raises():
    1 / 0


@pytest.mark.xfail(raises=ZeroDivisionError)
def test_xfail_other_error():
    raise KeyError("not the expected error")


@pytest.mark.xfail(strict=True)
def test_xpass_strict():
    pass


@pytest.mark.xfail(run=False)
def test_xfail_not_run():
    raise SystemExit("must not run")


@pytest.mark.db
def test_custom_mark():
    pass


def test_runtime_skip():
    pytest.skip("skipped at run time")


def test_runtime_xfail():
    pytest.xfail("not yet")


def test_runtime_fail():
    pytest.fail("explicit failure", pytrace=False)


@pytest.mark.filterwarnings("error::DeprecationWarning")
def test_filterwarnings_error():
    import warnings

    warnings.warn("old", DeprecationWarning)


state = []


def setup_module(module):
    state.append("module")


def teardown_module(module):
    state.clear()


def setup_function(function):
    state.append(function.__name__)


def test_xunit_function():
    # setup_module ran once, first; setup_function right before this test.
    assert state[0] == "module" and state[-1] == "test_xunit_function"


class TestXunit:
    @classmethod
    def setup_class(cls):
        cls.ready = True

    def setup_method(self, method):
        self.name = method.__name__

    def teardown_method(self):
        pass

    def test_method(self):
        assert self.ready and self.name == "test_method"


class TestOuter:
    class TestNested:
        def test_inner(self):
            pass


class TestWithInit:
    def __init__(self):
        pass

    def test_never_collected(self):
        pass


class TestCaseStyle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = [1]

    def setUp(self):
        self.local = 2
        self.addCleanup(self.shared.append, 3)

    def test_assert(self):
        self.assertEqual(self.shared[0] + self.local, 3)

    def test_failure(self):
        self.assertEqual(1, 2)

    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 2)

    @unittest.skip("not today")
    def test_skipped(self):
        pass

    @unittest.expectedFailure
    def test_expected_failure(self):
        raise ValueError

    @unittest.expectedFailure
    def test_unexpected_success(self):
        pass


class TestAsyncCase(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.value = 1

    async def test_async(self):
        self.assertEqual(self.value, 1)
