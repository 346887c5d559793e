raise RuntimeError("tests/test_ignored_file.py must not be imported")
