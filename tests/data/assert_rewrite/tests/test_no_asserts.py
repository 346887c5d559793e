import unittest


def test_raises_plainly():
    raise ValueError("no assert here")


class TestCase(unittest.TestCase):
    def test_unittest_assert(self):
        self.assertEqual(1, 2)
