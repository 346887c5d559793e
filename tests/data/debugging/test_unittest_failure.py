"""A unittest.TestCase failure for --pdb."""

import unittest


class TestInventory(unittest.TestCase):
    def test_count(self):
        shelf = {"jam": 3}
        self.assertEqual(shelf["jam"], 4)
