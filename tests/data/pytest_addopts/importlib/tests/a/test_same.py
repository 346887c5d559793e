"""Same file name as b/test_same.py, in folders without __init__.py: importlib mode gives each
a name of its own from its path, and leaves sys.path alone."""

import os
import sys


def test_named_by_its_path():
    assert __name__ == "tests.a.test_same"


def test_sys_path_untouched():
    assert os.path.dirname(__file__) not in sys.path
