"""pytest calls xunit setup_class / setup_method / teardown_method on a unittest.TestCase too."""

import unittest

calls = []


class TestCaseWithXunit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        calls.append("setUpClass")

    @classmethod
    def setup_class(cls):
        calls.append("setup_class")
        cls.shared = "from setup_class"

    @classmethod
    def teardown_class(cls):
        calls.append("teardown_class")

    @classmethod
    def tearDownClass(cls):
        calls.append("tearDownClass")

    def setup_method(self, method):
        calls.append(f"setup_method {method.__name__}")
        self.per_test = method.__name__

    def teardown_method(self, method):
        calls.append(f"teardown_method {method.__name__}")

    def setUp(self):
        calls.append("setUp")

    def test_a(self):
        assert self.shared == "from setup_class"
        assert self.per_test == "test_a"
        assert calls == ["setUpClass", "setup_class", "setup_method test_a", "setUp"]

    def test_b(self):
        assert self.per_test == "test_b"
        assert calls[-4:] == ["setup_method test_b", "setUp"][-4:] or calls[-2:] == ["setup_method test_b", "setUp"]
        assert "teardown_method test_a" in calls


def test_class_torn_down_in_order():
    assert calls[-2:] == ["teardown_class", "tearDownClass"]
