import os
import sys


def test_named_by_its_path():
    assert __name__ == "tests.b.test_same"


def test_sys_path_untouched():
    assert os.path.dirname(__file__) not in sys.path
